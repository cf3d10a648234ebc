using Parse.Config;

namespace Parse.Data;

/// <summary>
/// Where dataset sources and caches live.
/// <list type="bullet">
/// <item>Source root: <c>data.root</c> (relative to the config's directory), else the environment variable
/// <c>PARSE_DATA_ROOT</c>, else the defaults below.</item>
/// <item>FSDD: <c>ROOT/fsdd/recordings</c>; without a root <c>REPO/../shared/datasets/fsdd/recordings</c>, then
/// <c>CACHE/fsdd/recordings</c>, then a download of <see cref="FsddUrl"/> (see <see cref="Fsdd"/>).</item>
/// <item>MNIST: <c>ROOT/mnist</c> if it holds the IDX files, else <c>CACHE/mnist</c> (where <c>parse data fetch mnist</c>
/// and the automatic fetch put it).</item>
/// <item>Fashion-MNIST: <c>ROOT/fashion-mnist</c>, else <c>/usr/share/datasets/fashion-mnist</c> (Debian package
/// <c>dataset-fashion-mnist</c>).</item>
/// <item>Cache: <c>data.cache_dir</c> (relative to the config's directory), else <c>REPO/.data</c>.</item>
/// </list>
/// REPO is the nearest directory holding <c>Parse.slnx</c> above the config's directory, else above the
/// application's directory, else the config's directory itself.
/// </summary>
public sealed record DataPaths(string? Root, string CacheDir, string RepoRoot)
{
    /// <summary>Environment variable naming the data root when <c>data.root</c> is not set.</summary>
    public const string RootVariable = "PARSE_DATA_ROOT";

    /// <summary>Resolves paths for <paramref name="cfg"/> given the config's directory.</summary>
    public static DataPaths Resolve(DataConfig cfg, string baseDir)
    {
        string repo = FindRepoRoot(baseDir) ?? FindRepoRoot(AppContext.BaseDirectory) ?? Path.GetFullPath(baseDir);
        string? root = cfg.Root is { Length: > 0 } r ? Path.GetFullPath(r, Path.GetFullPath(baseDir))
            : Environment.GetEnvironmentVariable(RootVariable) is { Length: > 0 } env ? Path.GetFullPath(env) : null;
        string cache = cfg.CacheDir is { Length: > 0 } c ? Path.GetFullPath(c, Path.GetFullPath(baseDir)) : Path.Combine(repo, ".data");
        string url = cfg.FsddUrl is { Length: > 0 } u ? u
            : Environment.GetEnvironmentVariable(Fsdd.UrlVariable) is { Length: > 0 } eu ? eu : Fsdd.DefaultUrl;
        return new DataPaths(root, cache, repo) { FsddUrl = url };
    }

    /// <summary>Nearest ancestor of <paramref name="start"/> (inclusive) that holds Parse.slnx, or null.</summary>
    public static string? FindRepoRoot(string start)
    {
        for (var d = new DirectoryInfo(Path.GetFullPath(start)); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Parse.slnx"))) return d.FullName;
        return null;
    }

    /// <summary>URL of the FSDD archive: <c>data.fsdd_url</c>, else env <c>PARSE_FSDD_URL</c>, else <see cref="Fsdd.DefaultUrl"/>.</summary>
    public string FsddUrl { get; init; } = Fsdd.DefaultUrl;

    /// <summary>First place searched for the FSDD recordings (the data root's, else the local mirror); see <see cref="Fsdd.Locate"/>.</summary>
    public string FsddRecordings => Root is not null ? Path.Combine(Root, "fsdd", "recordings") : SharedFsddRecordings;

    /// <summary>The local mirror beside the repository: <c>REPO/../shared/datasets/fsdd/recordings</c>.</summary>
    public string SharedFsddRecordings => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "datasets", "fsdd", "recordings"));

    /// <summary>Where downloaded FSDD recordings are stored: <c>CACHE/fsdd/recordings</c>.</summary>
    public string FsddCache => Path.Combine(CacheDir, "fsdd", "recordings");

    /// <summary>Where fetched MNIST files are stored.</summary>
    public string MnistCache => Path.Combine(CacheDir, "mnist");

    /// <summary>Candidate directories for an image source (mnist or fashion-mnist), in search order.</summary>
    public IEnumerable<string> ImageDirs(string source)
    {
        if (Root is not null) yield return Path.Combine(Root, source);
        if (source == "mnist") yield return MnistCache;
        else
        {
            yield return MnistFetcher.FashionSystemDir;
            yield return Path.Combine(CacheDir, source);
        }
    }

    /// <summary>Directory for derived feature caches.</summary>
    public string FeatureCache => Path.Combine(CacheDir, "cache");
}
