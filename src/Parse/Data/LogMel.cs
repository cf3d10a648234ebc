using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Data;

/// <summary>Log-mel feature parameters.</summary>
/// <param name="SampleRate">Expected sample rate (Hz); input at another rate is an error.</param>
/// <param name="NFft">FFT size = window length (Hann window).</param>
/// <param name="Hop">Hop between frames, in samples.</param>
/// <param name="NMels">Mel bands (HTK scale, 0 Hz to Nyquist).</param>
/// <param name="Frames">Fixed number of frames: shorter clips are zero-padded at the end, longer ones cropped.</param>
public sealed record LogMelParams(int SampleRate, int NFft, int Hop, int NMels, int Frames)
{
    /// <summary>Floor added to mel energies before the logarithm.</summary>
    public const double Epsilon = 1e-6;

    /// <summary>Waveform samples that produce exactly <see cref="Frames"/> frames (no centring).</summary>
    public int WindowSamples => NFft + (Frames - 1) * Hop;

    /// <summary>A canonical string of the parameters (part of cache keys).</summary>
    public string Describe() => $"logmel-v1 sr={SampleRate} n_fft={NFft} hop={Hop} n_mels={NMels} frames={Frames} eps={Epsilon} htk hann";
}

/// <summary>
/// Log-mel spectrogram: each clip is zero-padded or cropped to <see cref="LogMelParams.WindowSamples"/> samples,
/// then <c>torch.stft</c> (Hann window, no centring) gives |X|^2 per frame, the <see cref="MelFilterbank"/> maps the
/// power spectrum to mel bands, and <c>log(mel + 1e-6)</c> is taken. Output per clip: [frames, n_mels].
/// </summary>
public sealed class LogMelExtractor
{
    private readonly LogMelParams _p;
    private readonly float[] _fb;

    /// <summary>Creates an extractor (the filterbank is built once).</summary>
    public LogMelExtractor(LogMelParams p)
    {
        _p = p;
        _fb = MelFilterbank.Create(p.NMels, p.NFft, p.SampleRate);
    }

    /// <summary>Features of many clips, row-major [clips, frames, n_mels]; computed in batches inside dispose scopes.</summary>
    public float[] Compute(IReadOnlyList<float[]> clips, int batch = 256)
    {
        int L = _p.WindowSamples, per = _p.Frames * _p.NMels, bins = _p.NFft / 2 + 1;
        var result = new float[clips.Count * per];
        using var fb = torch.tensor(_fb, [_p.NMels, bins]);
        using var window = torch.hann_window(_p.NFft);
        using var eps = LogMelParams.Epsilon.ToScalar();   // held for the calls (Util.ScalarOps)
        for (int start = 0; start < clips.Count; start += batch)
        {
            using var scope = torch.NewDisposeScope();
            int n = Math.Min(batch, clips.Count - start);
            var wave = new float[n * L];
            for (int i = 0; i < n; i++)
            {
                var c = clips[start + i];
                Array.Copy(c, 0, wave, i * L, Math.Min(c.Length, L));
            }
            var x = torch.tensor(wave, [n, L]);
            var spec = torch.stft(x, _p.NFft, hop_length: _p.Hop, win_length: _p.NFft, window: window, center: false, return_complex: true);
            var power = spec.abs().Squared();                        // [n, bins, frames]
            var mel = torch.matmul(fb, power);                      // [n, n_mels, frames]
            var logmel = mel.add(eps, ScalarOps.One).log().transpose(1, 2).contiguous();   // [n, frames, n_mels]
            if (logmel.shape[1] != _p.Frames) throw new InvalidOperationException($"stft produced {logmel.shape[1]} frames, expected {_p.Frames}");
            logmel.data<float>().CopyTo(result, checked(start * per));
        }
        return result;
    }

    /// <summary>Features of one clip, row-major [frames, n_mels].</summary>
    public float[] Compute(float[] clip) => Compute([clip]);
}
