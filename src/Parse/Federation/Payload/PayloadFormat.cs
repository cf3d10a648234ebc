namespace Parse.Federation.Payload;

/// <summary>How one tensor of a payload is laid out on the wire (see <see cref="PayloadCodec"/>).</summary>
public enum TensorFormat : byte
{
    /// <summary>Every value as a little-endian float32.</summary>
    Float32 = 1,
    /// <summary>Every value as an IEEE half (the values must already be rounded to float16).</summary>
    Float16 = 2,
    /// <summary>Non-zero values only: count, indices (u16 when the tensor has at most 65,536 elements, else u32), float32 values.</summary>
    Sparse = 3,
    /// <summary>Like <see cref="Sparse"/> with float16 values.</summary>
    SparseHalf = 4,
    /// <summary>
    /// <see cref="TensorCoding.Bits"/> bits per value: level <c>l</c> in [0, 2^bits - 1] stands for
    /// <c>scale * (2 l - L) / L</c> with <c>L = 2^bits - 1</c>, a uniform grid on [-scale, scale]; a float32 scale per tensor.
    /// </summary>
    Quantized = 5,
    /// <summary>
    /// <see cref="TensorCoding.Bits"/> bits per value on a grid with a zero level: level <c>l</c> in [0, 2 m] stands for
    /// <c>scale * (l - m) / m</c> with <c>m = 2^(bits-1) - 1</c> (2 m + 1 levels, an odd number, symmetric around 0;
    /// bits 2..16, the top code 2^bits - 1 is unused and refused); a float32 scale per tensor.
    /// </summary>
    QuantizedZero = 6,
}

/// <summary>The wire format of one tensor; for <see cref="TensorFormat.Quantized"/> also its bits and scale.</summary>
/// <param name="Format">Layout of the values.</param>
/// <param name="Bits">Bits per value (quantized only, 1..16).</param>
/// <param name="Scale">Largest magnitude on the quantization grid (quantized only).</param>
public readonly record struct TensorCoding(TensorFormat Format, int Bits = 0, float Scale = 0)
{
    /// <summary>Dense float32.</summary>
    public static TensorCoding Float32 => new(TensorFormat.Float32);
    /// <summary>Dense float16.</summary>
    public static TensorCoding Float16 => new(TensorFormat.Float16);

    /// <summary>The value that quantization level <paramref name="level"/> stands for; the encoder and decoder share it, so both ends see the same floats.</summary>
    public static float Dequantize(int level, int bits, float scale)
    {
        float l = (1 << bits) - 1;
        return scale * ((2f * level - l) / l);
    }

    /// <summary>Highest level of a <see cref="TensorFormat.QuantizedZero"/> grid of <paramref name="bits"/> bits: 2 m, m = 2^(bits-1) - 1.</summary>
    public static int TopZeroLevel(int bits) => (1 << bits) - 2;

    /// <summary>The value of level <paramref name="level"/> on a <see cref="TensorFormat.QuantizedZero"/> grid (level m is exactly 0).</summary>
    public static float DequantizeZero(int level, int bits, float scale)
    {
        float m = (1 << (bits - 1)) - 1;
        return scale * ((level - m) / m);
    }

    /// <summary>True for the two quantized formats.</summary>
    public bool IsQuantized => Format is TensorFormat.Quantized or TensorFormat.QuantizedZero;

    /// <summary>Highest level of this coding's grid (quantized formats).</summary>
    public int TopLevel => Format == TensorFormat.QuantizedZero ? TopZeroLevel(Bits) : (1 << Bits) - 1;

    /// <summary>The value level <paramref name="level"/> of this coding's grid stands for (quantized formats).</summary>
    public float ValueOf(int level) => Format == TensorFormat.QuantizedZero ? DequantizeZero(level, Bits, Scale) : Dequantize(level, Bits, Scale);
}

/// <summary>What a payload's values are.</summary>
public enum PayloadKind : byte
{
    /// <summary>The group's values (what the receiver mixes).</summary>
    Full = 0,
    /// <summary>
    /// A (compressed) difference to add to the receiver's copy of the sender's values; it follows the sender's payload
    /// of round <see cref="GroupPayload.BaseRound"/> (0: the shared initial values).
    /// </summary>
    Delta = 1,
}

/// <summary>Lossless compression of a payload's encoded values.</summary>
public enum LosslessCodec : byte
{
    /// <summary>Values as they are.</summary>
    None = 0,
    /// <summary>LZ4 block compression (K4os.Compression.LZ4) of all values.</summary>
    Lz4 = 1,
    /// <summary>
    /// Zstandard compression (ZstdSharp.Port, level <see cref="PayloadCodec.ZstdLevel"/>) of all values: Huffman/FSE
    /// entropy coding, so it also shrinks low-bit quantized levels that LZ4, which only finds repeats, leaves as they are.
    /// </summary>
    Zstd = 2,
}
