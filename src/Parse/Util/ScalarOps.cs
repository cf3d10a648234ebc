using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Util;

/// <summary>
/// Tensor arithmetic with a .NET number, keeping the native scalar alive for the whole native call.
/// <para>TorchSharp turns a <c>double</c> into a <see cref="Scalar"/> implicitly; that object has a finalizer, and
/// once its handle has been read nothing references it, so a garbage collection during the native call may free
/// the scalar while LibTorch reads it. Under multi-threaded training (agents on parallel workers, many tensor
/// allocations, frequent GCs) this showed up as "Unknown scalar type" / "Expected false to be true ... toFloat"
/// errors in Adam and as sporadic NaN losses. Every hot path of the project uses these helpers (or explicitly held
/// scalars) instead of implicit conversions; each disposes its scalar after the call returns.</para>
/// </summary>
public static class ScalarOps
{
    /// <summary>
    /// The scalar 1, alive for the whole process: pass it as the <c>alpha</c> of <c>add</c>. TorchSharp's
    /// one-argument <c>add(Tensor)</c> and <c>add_(Scalar)</c> (and the <c>+</c> operator)
    /// create an implicit alpha of 1 that can be finalized during the native call.
    /// </summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary><paramref name="a"/> + <paramref name="b"/> without an implicit scalar.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><paramref name="t"/> * <paramref name="x"/>.</summary>
    public static Tensor Times(this Tensor t, double x)
    {
        using var s = x.ToScalar();
        return t.mul(s);
    }

    /// <summary><paramref name="t"/> / <paramref name="x"/>.</summary>
    public static Tensor Over(this Tensor t, double x)
    {
        using var s = x.ToScalar();
        return t.div(s);
    }

    /// <summary><paramref name="t"/> - <paramref name="x"/>.</summary>
    public static Tensor Minus(this Tensor t, double x)
    {
        using var s = x.ToScalar();
        return t.sub(s);
    }

    /// <summary>In place: <paramref name="t"/> += <paramref name="alpha"/> * <paramref name="other"/>.</summary>
    public static Tensor AddScaled_(this Tensor t, Tensor other, double alpha)
    {
        using var s = alpha.ToScalar();
        return t.add_(other, s);
    }

    /// <summary>Element-wise square as a tensor product (TorchSharp's <c>square()</c> is <c>pow(2)</c> with an implicit scalar).</summary>
    public static Tensor Squared(this Tensor t) => t.mul(t);
}
