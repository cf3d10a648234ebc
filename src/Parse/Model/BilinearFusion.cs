using static TorchSharp.torch;

namespace Parse.Model;

/// <summary>
/// Bilinear (tensor) fusion without parameters: the outer product of every pair of slices, flattened and concatenated,
/// [A, N, K(K-1)/2 * d^2]. Every product of a coordinate of one modality's slice with a coordinate of another's is a
/// feature, so an interaction (e.g. an XOR of one bit in each modality) is linear in the fused representation as soon
/// as each slice encodes its own bit in any direction; the element-wise <see cref="ProductFusion"/> keeps only the
/// diagonal of each outer product and needs both encoders to put the bits into the same coordinate first.
/// With one slice it is that slice's outer product with itself.
/// </summary>
public sealed class BilinearFusion(int modalities, int d) : Fusion("BilinearFusion")
{
    private long Pairs => modalities <= 1 ? 1 : (long)modalities * (modalities - 1) / 2;

    /// <inheritdoc />
    public override long OutDim => Pairs * d * d;

    /// <inheritdoc />
    public override Tensor Fuse(IReadOnlyList<Tensor> s)
    {
        if (s.Count == 1) return Outer(s[0], s[0]);
        var parts = new List<Tensor>();
        for (int i = 0; i < s.Count; i++)
            for (int j = i + 1; j < s.Count; j++)
                parts.Add(Outer(s[i], s[j]));
        return parts.Count == 1 ? parts[0] : cat(parts, -1);
    }

    private static Tensor Outer(Tensor x, Tensor y)
    {
        var outer = x.unsqueeze(-1).mul(y.unsqueeze(-2));          // [A, N, d, d]
        return outer.reshape([.. x.shape[..^1], x.shape[^1] * y.shape[^1]]);
    }
}
