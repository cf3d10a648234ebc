namespace Parse.Data;

/// <summary>
/// Triangular mel filterbank on the HTK mel scale, <c>mel(f) = 2595 * log10(1 + f / 700)</c>.
/// <para>
/// <c>n_mels + 2</c> points are spaced evenly in mel between <c>fMin</c> and <c>fMax</c> and mapped back to Hz;
/// filter <c>i</c> is a triangle that is 0 at point <c>i</c>, rises linearly (in Hz) to 1 at point <c>i+1</c> and falls
/// to 0 at point <c>i+2</c>. Filters are evaluated at the FFT bin frequencies <c>k * sampleRate / nFft</c>,
/// <c>k = 0 .. nFft/2</c>. Filters are not area-normalized (HTK convention: peak height 1), so adjacent filters
/// sum to 1 between the centres of the first and the last filter.
/// </para>
/// </summary>
public static class MelFilterbank
{
    /// <summary>Hz to mel (HTK).</summary>
    public static double HzToMel(double hz) => 2595.0 * Math.Log10(1.0 + hz / 700.0);

    /// <summary>Mel to Hz (HTK), the inverse of <see cref="HzToMel"/>.</summary>
    public static double MelToHz(double mel) => 700.0 * (Math.Pow(10.0, mel / 2595.0) - 1.0);

    /// <summary>The <c>n_mels + 2</c> edge/centre frequencies in Hz (filter i spans points i..i+2, peak at i+1).</summary>
    public static double[] Points(int nMels, double fMin, double fMax)
    {
        double lo = HzToMel(fMin), hi = HzToMel(fMax);
        return Enumerable.Range(0, nMels + 2).Select(i => MelToHz(lo + (hi - lo) * i / (nMels + 1))).ToArray();
    }

    /// <summary>Filter weights, row-major [nMels, nFft/2 + 1].</summary>
    public static float[] Create(int nMels, int nFft, int sampleRate, double fMin = 0, double? fMax = null)
    {
        double top = fMax ?? sampleRate / 2.0;
        if (nMels < 1) throw new ArgumentOutOfRangeException(nameof(nMels), "n_mels must be >= 1");
        if (nFft < 2) throw new ArgumentOutOfRangeException(nameof(nFft), "n_fft must be >= 2");
        if (!(fMin >= 0 && top > fMin && top <= sampleRate / 2.0 + 1e-9))
            throw new ArgumentOutOfRangeException(nameof(fMax), $"need 0 <= fMin < fMax <= sampleRate/2 (got {fMin}, {top})");
        int bins = nFft / 2 + 1;
        var pts = Points(nMels, fMin, top);
        var w = new float[nMels * bins];
        for (int m = 0; m < nMels; m++)
        {
            double left = pts[m], centre = pts[m + 1], right = pts[m + 2];
            for (int k = 0; k < bins; k++)
            {
                double f = (double)k * sampleRate / nFft;
                double up = (f - left) / (centre - left), down = (right - f) / (right - centre);
                w[m * bins + k] = (float)Math.Max(0.0, Math.Min(up, down));
            }
        }
        return w;
    }
}
