using System.Text.RegularExpressions;
using Parse.Config;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Data;

/// <summary>One FSDD recording, identified by its file name <c>{digit}_{speaker}_{index}.wav</c>.</summary>
public sealed record FsddRecording(string Path, int Digit, string Speaker, int Index)
{
    /// <summary>Conventional split: index 0-4 is test, 5-49 train.</summary>
    public bool IsTest => Index < 5;
}

/// <summary>
/// AV-MNIST: spoken digits (FSDD, audio as log-mel frames [frames, n_mels]) paired with MNIST (or Fashion-MNIST)
/// images [1,28,28] of the same class. Each recording gets one image of its digit, drawn without replacement
/// from a seed-derived permutation of that digit's images (train recordings from the MNIST training set,
/// test recordings from the MNIST test set). The speaker of every training sample is its natural group.
/// Audio is standardized per mel band and images globally, with training statistics.
/// </summary>
public static partial class AvMnist
{
    /// <summary>Modality names this dataset provides.</summary>
    public static readonly IReadOnlyList<string> ModalityNames = ["image", "audio"];

    /// <summary>FSDD's sample rate.</summary>
    public const int SampleRate = 8000;

    [GeneratedRegex(@"^(\d)_([A-Za-z]+)_(\d+)\.wav$")]
    private static partial Regex FileName();

    /// <summary>Lists FSDD recordings in <paramref name="dir"/>, ordered by file name; clear error if missing.</summary>
    public static List<FsddRecording> ListRecordings(string dir)
    {
        const string how = "the Free Spoken Digit Dataset (" + Fsdd.Repository + ", recordings/*.wav) " +
                           "is expected there; set data.root or PARSE_DATA_ROOT to a directory holding fsdd/recordings, or see docs/datasets.md";
        if (!Directory.Exists(dir)) throw new ConfigException($"FSDD recordings not found: directory {dir} does not exist; {how}");
        var list = new List<FsddRecording>();
        foreach (var f in Directory.EnumerateFiles(dir, "*.wav").Order(StringComparer.Ordinal))
        {
            var m = FileName().Match(System.IO.Path.GetFileName(f));
            if (!m.Success) continue;
            list.Add(new FsddRecording(f, m.Groups[1].Value[0] - '0', m.Groups[2].Value, int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }
        if (list.Count == 0) throw new ConfigException($"FSDD recordings not found: no {{digit}}_{{speaker}}_{{index}}.wav files in {dir}; {how}");
        return list;
    }

    /// <summary>
    /// For each recording (label <paramref name="digits"/>[i]) the index of an image with the same label: a seed-derived
    /// permutation of each digit's images, taken in order (cycling only if a digit has fewer images than recordings).
    /// </summary>
    public static int[] Pair(IReadOnlyList<int> digits, IReadOnlyList<int> imageLabels, int seed, string split)
    {
        var result = new int[digits.Count];
        foreach (int d in digits.Distinct().Order())
        {
            var pool = Enumerable.Range(0, imageLabels.Count).Where(i => imageLabels[i] == d).ToArray();
            if (pool.Length == 0) throw new ConfigException($"av-mnist: the {split} images have no image of class {d}");
            new Random(Seeds.Derive(seed, "av-mnist-pair", split, d)).Shuffle(pool);
            int k = 0;
            for (int i = 0; i < digits.Count; i++)
                if (digits[i] == d) result[i] = pool[k++ % pool.Length];
        }
        return result;
    }

    /// <summary>Loads (and caches the audio features of) AV-MNIST for <paramref name="cfg"/>.</summary>
    public static DatasetBundle Load(DataConfig cfg, string baseDir, int seed, TextWriter? log = null, CancellationToken ct = default)
    {
        var paths = DataPaths.Resolve(cfg, baseDir);
        string fsddDir = Fsdd.Locate(paths, cfg.Fetch, log);
        var recs = ListRecordings(fsddDir);
        var p = new LogMelParams(SampleRate, cfg.NFft, cfg.Hop, cfg.NMels, cfg.Frames);
        bool wantAudio = cfg.Modalities.Contains("audio"), wantImage = cfg.Modalities.Contains("image");

        var trainIdx = Subset(recs.Select((r, i) => (r, i)).Where(t => !t.r.IsTest).Select(t => t.i).ToList(), cfg.MaxTrain, seed, "train");
        var testIdx = Subset(recs.Select((r, i) => (r, i)).Where(t => t.r.IsTest).Select(t => t.i).ToList(), cfg.MaxTest, seed, "test");
        if (trainIdx.Count == 0 || testIdx.Count == 0)
            throw new ConfigException($"av-mnist: {fsddDir} has {trainIdx.Count} training and {testIdx.Count} test recordings; both are needed");

        ct.ThrowIfCancellationRequested();
        float[]? logmel = wantAudio ? AudioFeatures(recs, p, paths, log, ct) : null;
        ct.ThrowIfCancellationRequested();
        IdxArray? trImg = null, trLab = null, teImg = null, teLab = null;
        if (wantImage)
        {
            var set = MnistFetcher.Locate(cfg.ImageSource, paths, cfg.Fetch, log);
            trImg = IdxReader.Read(set.TrainImages); trLab = IdxReader.Read(set.TrainLabels);
            teImg = IdxReader.Read(set.TestImages); teLab = IdxReader.Read(set.TestLabels);
            foreach (var (img, lab, src) in new[] { (trImg, trLab, set.TrainImages), (teImg, teLab, set.TestImages) })
                if (img.Dims.Length != 3 || img.Dims[1] != 28 || img.Dims[2] != 28 || lab.Count != img.Count)
                    throw new ConfigException($"{src}: expected [N,28,28] images with N labels (got [{string.Join(",", img.Dims)}], {lab.Count} labels)");
        }

        int per = p.Frames * p.NMels;
        var views = new Dictionary<string, (float[] Train, float[] Test)>();
        if (logmel is not null)
        {
            float[] Gather(List<int> idx) { var o = new float[idx.Count * per]; for (int i = 0; i < idx.Count; i++) Array.Copy(logmel, (long)idx[i] * per, o, (long)i * per, per); return o; }
            var (tr, te) = (Gather(trainIdx), Gather(testIdx));
            StandardizeColumns(tr, te, p.NMels);
            views["audio"] = (tr, te);
        }
        if (trImg is not null)
        {
            float[] Images(List<int> idx, IdxArray img, IdxArray lab, string split)
            {
                var pairs = Pair(idx.Select(i => recs[i].Digit).ToList(), lab.Data.Select(b => (int)b).ToList(), seed, split);
                var o = new float[idx.Count * 784];
                for (int i = 0; i < idx.Count; i++)
                    for (int k = 0; k < 784; k++) o[i * 784 + k] = img.Data[(long)pairs[i] * 784 + k] / 255f;
                return o;
            }
            var tr = Images(trainIdx, trImg, trLab!, "train");
            var te = Images(testIdx, teImg!, teLab!, "test");
            if (cfg.ImageRank is { } rank) LowRank(tr, te, 784, rank);
            StandardizeGlobal(tr, te);
            if (cfg.ImageNoise > 0)
            {
                AddNoise(tr, cfg.ImageNoise, Seeds.Derive(seed, "av-mnist-noise", "train"));
                AddNoise(te, cfg.ImageNoise, Seeds.Derive(seed, "av-mnist-noise", "test"));
            }
            views["image"] = (tr, te);
        }

        var specs = new List<ModalitySpec>();
        var trV = new Dictionary<string, Tensor>();
        var teV = new Dictionary<string, Tensor>();
        foreach (var m in cfg.Modalities)
        {
            long[] shape = m == "image" ? [1, 28, 28] : [p.Frames, p.NMels];
            specs.Add(new ModalitySpec(m, shape));
            trV[m] = torch.tensor(views[m].Train, [trainIdx.Count, .. shape]);
            teV[m] = torch.tensor(views[m].Test, [testIdx.Count, .. shape]);
        }
        return new DatasetBundle
        {
            Train = new MultimodalData(trV, trainIdx.Select(i => recs[i].Digit).ToArray(), 10),
            Test = new MultimodalData(teV, testIdx.Select(i => recs[i].Digit).ToArray(), 10),
            Modalities = specs,
            Groups = trainIdx.Select(i => recs[i].Speaker).ToArray(),
        };
    }

    /// <summary>Log-mel features of every recording [N, frames, n_mels], from the cache when its content hash matches.</summary>
    public static float[] AudioFeatures(IReadOnlyList<FsddRecording> recs, LogMelParams p, DataPaths paths, TextWriter? log, CancellationToken ct = default)
    {
        var bytes = recs.Select(r => { ct.ThrowIfCancellationRequested(); return File.ReadAllBytes(r.Path); }).ToList();
        string key;
        using (var h = new ContentHash())
        {
            h.Add(p.Describe());
            for (int i = 0; i < recs.Count; i++) h.Add(System.IO.Path.GetFileName(recs[i].Path)).Add(bytes[i]);
            key = h.Hex();
        }
        string file = System.IO.Path.Combine(paths.FeatureCache, $"av-mnist-logmel-{key}.bin");
        if (DataCache.TryRead(file) is { } hit && hit.TryGetValue("logmel", out var arr) && arr.Shape.SequenceEqual(new long[] { recs.Count, p.Frames, p.NMels }))
            return arr.Data;
        log?.WriteLine($"computing log-mel features of {recs.Count} recordings (cached in {file}) ...");
        var clips = new List<float[]>(recs.Count);
        for (int i = 0; i < recs.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var wav = WavReader.Parse(bytes[i], recs[i].Path);
            if (wav.SampleRate != p.SampleRate)
                throw new ConfigException($"{recs[i].Path}: sample rate {wav.SampleRate} Hz, expected {p.SampleRate} Hz");
            clips.Add(wav.Samples);
        }
        var feats = new LogMelExtractor(p).Compute(clips);
        // a cancelled load writes no cache file (the cache itself is written atomically)
        ct.ThrowIfCancellationRequested();
        DataCache.Write(file, new Dictionary<string, (long[], float[])> { ["logmel"] = ([recs.Count, p.Frames, p.NMels], feats) });
        return feats;
    }

    private static List<int> Subset(List<int> idx, int? max, int seed, string split)
    {
        if (max is not { } k || k >= idx.Count) return idx;
        var copy = idx.ToArray();
        new Random(Seeds.Derive(seed, "av-mnist-subset", split)).Shuffle(copy);
        return copy.Take(k).Order().ToList();
    }

    /// <summary>Standardizes each of <paramref name="cols"/> interleaved columns with training mean/std (in place).</summary>
    internal static void StandardizeColumns(float[] train, float[] test, int cols)
    {
        var mean = new double[cols];
        var sq = new double[cols];
        long rows = train.Length / cols;
        for (long i = 0; i < train.Length; i++) { mean[i % cols] += train[i]; sq[i % cols] += (double)train[i] * train[i]; }
        var std = new double[cols];
        for (int c = 0; c < cols; c++)
        {
            mean[c] /= rows;
            std[c] = Math.Sqrt(Math.Max(sq[c] / rows - mean[c] * mean[c], 0));
            if (std[c] < 1e-8) std[c] = 1;
        }
        foreach (var a in new[] { train, test })
            for (long i = 0; i < a.Length; i++) a[i] = (float)((a[i] - mean[i % cols]) / std[i % cols]);
    }

    private static void StandardizeGlobal(float[] train, float[] test)
    {
        double mean = train.Average(x => (double)x);
        double std = Math.Sqrt(train.Average(x => (x - mean) * (x - mean)));
        if (std < 1e-8) std = 1;
        foreach (var a in new[] { train, test })
            for (int i = 0; i < a.Length; i++) a[i] = (float)((a[i] - mean) / std);
    }

    private static void AddNoise(float[] a, double std, int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < a.Length; i++) a[i] += (float)(std * rng.NextGaussian());
    }

    /// <summary>Projects rows onto the top-<paramref name="rank"/> principal components of the training rows (in place).</summary>
    internal static void LowRank(float[] train, float[] test, int dim, int rank)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(train, [train.Length / dim, dim], dtype: ScalarType.Float32).to_type(ScalarType.Float64);
        var mean = x.mean([0], keepdim: true);
        var xc = x - mean;
        var cov = xc.t().matmul(xc).Over(x.shape[0]);
        var (_, vecs) = torch.linalg.eigh(cov);                         // ascending eigenvalues
        var v = vecs.narrow(1, dim - rank, rank);                       // top-rank eigenvectors [dim, rank]
        var proj = v.matmul(v.t());
        foreach (var a in new[] { train, test })
        {
            var t = torch.tensor(a, [a.Length / dim, dim]).to_type(ScalarType.Float64);
            var r = (t - mean).matmul(proj).Plus(mean).to_type(ScalarType.Float32).contiguous();
            r.data<float>().CopyTo(a, 0);
        }
    }
}
