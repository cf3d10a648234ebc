using Parse.Data;

namespace Parse.Tests;

/// <summary>Mel filterbank and log-mel against values computed here from the closed form of the HTK mel scale.</summary>
public class MelTests
{
    private static double Mel(double f) => 2595 * Math.Log10(1 + f / 700);
    private static double Hz(double m) => 700 * (Math.Pow(10, m / 2595) - 1);

    [Fact]
    public void Mel_scale_matches_the_closed_form()
    {
        Assert.Equal(2595 * Math.Log10(2), MelFilterbank.HzToMel(700), 9);
        Assert.Equal(1000.0, MelFilterbank.HzToMel(1000), 0);   // the scale is anchored near 1000 mel at 1 kHz
        foreach (double f in new[] { 0.0, 50, 440, 3999 }) Assert.Equal(f, MelFilterbank.MelToHz(MelFilterbank.HzToMel(f)), 6);
    }

    [Fact]
    public void Filterbank_triangles_peak_at_centres_vanish_at_edges_and_sum_to_one_inside()
    {
        const int nMels = 10, nFft = 512, sr = 8000, bins = nFft / 2 + 1;
        var w = MelFilterbank.Create(nMels, nFft, sr);
        Assert.Equal(nMels * bins, w.Length);
        double top = Mel(4000);
        double[] pts = Enumerable.Range(0, nMels + 2).Select(i => Hz(top * i / (nMels + 1))).ToArray();
        for (int m = 0; m < nMels; m++)
        {
            double l = pts[m], c = pts[m + 1], r = pts[m + 2];
            for (int k = 0; k < bins; k++)
            {
                double f = k * (double)sr / nFft;
                double expect = f <= l || f >= r ? 0 : f <= c ? (f - l) / (c - l) : (r - f) / (r - c);
                Assert.True(Math.Abs(expect - w[m * bins + k]) < 1e-5, $"filter {m}, bin {k}: expected {expect}, got {w[m * bins + k]}");
            }
            int peak = Enumerable.Range(0, bins).MaxBy(k => w[m * bins + k]);
            Assert.True(Math.Abs(peak * (double)sr / nFft - c) <= (double)sr / nFft, $"filter {m} peaks at bin {peak}, centre {c:F1} Hz");
        }
        for (int k = 0; k < bins; k++)
        {
            double f = k * (double)sr / nFft;
            double sum = Enumerable.Range(0, nMels).Sum(m => w[m * bins + k]);
            if (f >= pts[1] && f <= pts[nMels]) Assert.True(Math.Abs(sum - 1) < 1e-5, $"bin {k}: filters sum to {sum}");
            if (f >= pts[nMels + 1]) Assert.Equal(0.0, sum, 9);
        }
    }

    [Theory]
    [InlineData(5)]
    [InlineData(12)]
    [InlineData(25)]
    public void Log_mel_of_a_sine_peaks_at_the_band_whose_centre_is_the_tone(int band)
    {
        var p = new LogMelParams(8000, 256, 128, 32, 20);
        double top = Mel(4000);
        double f0 = Hz(top * (band + 1) / 33.0);   // centre of filter `band`
        var clip = Enumerable.Range(0, 8000).Select(i => (float)(0.5 * Math.Sin(2 * Math.PI * f0 * i / 8000))).ToArray();
        var feats = new LogMelExtractor(p).Compute(clip);
        Assert.Equal(20 * 32, feats.Length);
        var mean = Enumerable.Range(0, 32).Select(b => Enumerable.Range(0, 20).Average(t => feats[t * 32 + b])).ToArray();
        Assert.Equal(band, Array.IndexOf(mean, mean.Max()));
        // far bands are much weaker (at least 1e4 in power)
        Assert.True(mean.Max() - mean[(band + 16) % 32] > Math.Log(1e4));
    }

    [Fact]
    public void Log_mel_pads_short_clips_with_silence_and_crops_long_ones()
    {
        var p = new LogMelParams(8000, 256, 128, 16, 10);
        var tone = Enumerable.Range(0, 400).Select(i => (float)Math.Sin(i * 0.3)).ToArray();
        var f = new LogMelExtractor(p).Compute(tone);
        // frames starting at or after sample 400 see only zeros: log(1e-6)
        for (int t = 4; t < 10; t++) Assert.All(Enumerable.Range(0, 16), b => Assert.Equal(Math.Log(1e-6), f[t * 16 + b], 3));
        var longer = tone.Concat(new float[5000]).ToArray();
        Assert.Equal(f, new LogMelExtractor(p).Compute(longer));
        Assert.Equal(256 + 9 * 128, p.WindowSamples);
    }
}
