using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using Parse.Config;

namespace Parse.Data;

/// <summary>Where the FSDD recordings were found (or would come from).</summary>
/// <param name="Directory">Directory holding the recordings, or null when none is available locally.</param>
/// <param name="Source">root, shared, cache, download (not local yet; <c>data.fetch</c> would download it) or none.</param>
/// <param name="Reason">What was found or, when unavailable, what was searched and how to get the data.</param>
public sealed record FsddProbe(string? Directory, string Source, string Reason)
{
    /// <summary>True when the recordings are on this machine (no download needed).</summary>
    public bool Available => Directory is not null;
}

/// <summary>Settings of one FSDD download.</summary>
/// <param name="Attempts">Downloads tried before giving up (a corrupt, truncated or failed download is retried).</param>
/// <param name="RetryDelay">Pause before the second attempt; doubled before each later one.</param>
/// <param name="Timeout">Time limit of one attempt.</param>
public sealed record FsddFetchOptions(int Attempts = 3, TimeSpan? RetryDelay = null, TimeSpan? Timeout = null)
{
    internal TimeSpan Delay => RetryDelay ?? TimeSpan.FromSeconds(2);
    internal TimeSpan Limit => Timeout ?? TimeSpan.FromMinutes(10);
    /// <summary>Manifest to check against (tests); default <see cref="FsddManifest.Embedded"/>.</summary>
    internal FsddManifest? Manifest { get; init; }
}

/// <summary>
/// The Free Spoken Digit Dataset (FSDD, CC BY-SA 4.0): locating a verified copy of its recordings and downloading
/// the pinned commit's archive when there is none. Resolution order: the data root (<c>data.root</c> or
/// <c>PARSE_DATA_ROOT</c>, used as is), else <c>REPO/../shared/datasets/fsdd/recordings</c>, else
/// <c>CACHE/fsdd/recordings</c> (both checked against <see cref="FsddManifest"/>), else a download of
/// <see cref="DataPaths.FsddUrl"/> into the cache when <c>data.fetch</c> is true. A download is written to a
/// temporary directory, every recording is checked against the manifest, and only then is it renamed into place.
/// </summary>
public static class Fsdd
{
    /// <summary>Upstream repository.</summary>
    public const string Repository = "github.com/Jakobovski/free-spoken-digit-dataset";
    /// <summary>Pinned commit whose recordings the manifest describes.</summary>
    public const string Commit = "26eb9aaf76e81b692f806f9140c2d2777410d7a1";
    /// <summary>Default archive URL (the pinned commit as a zip).</summary>
    public const string DefaultUrl = "https://" + Repository + "/archive/" + Commit + ".zip";
    /// <summary>Environment variable overriding the archive URL when <c>data.fsdd_url</c> is not set.</summary>
    public const string UrlVariable = "PARSE_FSDD_URL";
    /// <summary>Licence of the recordings.</summary>
    public const string Licence = "CC BY-SA 4.0";

    private static readonly Lock FetchLock = new();

    /// <summary>Finds the recordings without downloading; says where they are or why they are not available.</summary>
    public static FsddProbe Probe(DataPaths paths, bool fetch)
    {
        var searched = new List<string>();
        if (paths.Root is not null)
        {
            string dir = Path.Combine(paths.Root, "fsdd", "recordings");
            if (Directory.Exists(dir) && Directory.EnumerateFiles(dir, "*.wav").Any())
                return new FsddProbe(dir, "root", $"FSDD recordings from the data root {dir}");
            searched.Add($"{dir} (data root: no .wav files)");
        }
        else
        {
            string shared = paths.SharedFsddRecordings;
            if (Directory.Exists(shared))
            {
                if (FsddManifest.Embedded.Verify(shared) is not { } problem)
                    return new FsddProbe(shared, "shared", $"FSDD recordings from the local mirror {shared} (verified)");
                searched.Add($"{shared} (fails verification: {problem})");
            }
            else searched.Add($"{shared} (absent)");
        }
        string cache = paths.FsddCache;
        if (Directory.Exists(cache))
        {
            if (FsddManifest.Embedded.Verify(cache) is not { } problem)
                return new FsddProbe(cache, "cache", $"FSDD recordings from the data cache {cache} (verified)");
            searched.Add($"{cache} (fails verification: {problem})");
        }
        else searched.Add($"{cache} (absent)");
        string where = string.Join("; ", searched);
        return fetch
            ? new FsddProbe(null, "download", $"FSDD recordings not found locally ({where}); data.fetch is true, so {paths.FsddUrl} would be downloaded into {cache}")
            : new FsddProbe(null, "none", $"FSDD recordings not found ({where}) and data.fetch is false. {HowTo(paths.FsddUrl, cache)}");
    }

    /// <summary>Returns the directory of verified recordings, downloading them when <paramref name="fetch"/> and none is local.</summary>
    public static string Locate(DataPaths paths, bool fetch, TextWriter? log = null, FsddFetchOptions? options = null)
    {
        var probe = Probe(paths, fetch);
        if (probe.Directory is { } dir) return dir;
        if (!fetch) throw new ConfigException(probe.Reason);
        log?.WriteLine(probe.Reason + " ...");
        Download(paths.FsddUrl, paths.FsddCache, options, log);
        return paths.FsddCache;
    }

    /// <summary>What to fetch from where, for messages.</summary>
    public static string HowTo(string url, string cache) =>
        $"To fix: download {url} ({Repository} at commit {Commit}, {Licence}) and put its recordings/*.wav into {cache}, " +
        $"or set data.root / {DataPaths.RootVariable} to a directory holding fsdd/recordings, or run `./parse data fetch fsdd` where the host is reachable";

    /// <summary>
    /// Downloads the archive at <paramref name="url"/> (zip or tar.gz), extracts <c>recordings/*.wav</c>, checks every
    /// recording against the manifest and renames the result to <paramref name="target"/>. A failed attempt (network
    /// error, truncated or corrupt archive, a recording with the wrong hash) is retried up to
    /// <see cref="FsddFetchOptions.Attempts"/> times; then a <see cref="ConfigException"/> names the URL and each failure.
    /// </summary>
    public static void Download(string url, string target, FsddFetchOptions? options = null, TextWriter? log = null)
    {
        options ??= new FsddFetchOptions();
        var manifest = options.Manifest ?? FsddManifest.Embedded;
        lock (FetchLock)
        {
            if (Directory.Exists(target) && manifest.Verify(target) is null) return;   // another caller finished it
            string parent = Path.GetDirectoryName(Path.GetFullPath(target))!;
            Directory.CreateDirectory(parent);
            var failures = new List<string>();
            bool offline = false;
            for (int attempt = 1; attempt <= Math.Max(1, options.Attempts); attempt++)
            {
                if (attempt > 1) Thread.Sleep(options.Delay * (1 << Math.Min(attempt - 2, 6)));
                string work = Path.Combine(parent, $".fetch-fsdd-{Environment.ProcessId}-{Guid.NewGuid():N}");
                Directory.CreateDirectory(work);
                try
                {
                    string archive = Path.Combine(work, "archive");
                    long bytes = Get(url, archive, options.Limit);
                    string staging = Path.Combine(work, "recordings");
                    Extract(archive, staging, manifest, url);
                    if (Directory.Exists(target)) Directory.Delete(target, true);
                    Directory.Move(staging, target);
                    AtomicWrite(Path.Combine(parent, "SOURCE.txt"),
                        $"Free Spoken Digit Dataset recordings\nsource: {Repository} at commit {Commit}\nurl: {url}\nlicence: {Licence}\n" +
                        $"fetched: {DateTime.UtcNow:O}\nverified: {manifest.Files.Count} files against the SHA-256 manifest shipped with PARSE\n");
                    log?.WriteLine($"FSDD: {manifest.Files.Count} recordings from {url} ({bytes:N0} bytes) verified and stored in {target}");
                    return;
                }
                catch (Exception e) when (e is HttpRequestException or IOException or InvalidDataException or TaskCanceledException
                                              or FsddArchiveException or UnauthorizedAccessException or FormatException)
                {
                    offline |= e is HttpRequestException { StatusCode: null } || e is TaskCanceledException;
                    string msg = e is FsddArchiveException ? e.Message : $"{e.GetType().Name}: {e.Message}";
                    failures.Add($"attempt {attempt}: {msg}");
                    log?.WriteLine($"FSDD download attempt {attempt}/{options.Attempts} from {url} failed: {msg}");
                }
                finally
                {
                    try { if (Directory.Exists(work)) Directory.Delete(work, true); } catch (IOException) { }
                }
            }
            throw new ConfigException(
                (offline ? $"could not download the FSDD recordings from {url}: the host is unreachable (offline?). "
                         : $"could not obtain verified FSDD recordings from {url} after {failures.Count} attempt(s). ") +
                string.Join("; ", failures) + ". " + HowTo(url, target));
        }
    }

    private static long Get(string url, string file, TimeSpan limit)
    {
        // one deadline for the headers and the body (HttpClient.Timeout alone does not cover reading the body)
        using var cts = new CancellationTokenSource(limit);
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        try
        {
            using var resp = http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cts.Token).GetAwaiter().GetResult();
            if (resp.StatusCode != HttpStatusCode.OK)
                throw new HttpRequestException($"{url} answered {(int)resp.StatusCode} {resp.ReasonPhrase}", null, resp.StatusCode);
            long? expected = resp.Content.Headers.ContentLength;
            long n;
            using (var src = resp.Content.ReadAsStreamAsync(cts.Token).GetAwaiter().GetResult())
            using (var dst = File.Create(file))
            {
                src.CopyToAsync(dst, cts.Token).GetAwaiter().GetResult();
                n = dst.Length;
            }
            if (expected is { } len && n != len)
                throw new FsddArchiveException($"{url}: download truncated ({n:N0} of {len:N0} bytes)");
            return n;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new FsddArchiveException($"{url}: no complete answer within {limit.TotalSeconds:F0} s");
        }
    }

    /// <summary>Extracts the manifest's recordings from a zip or tar.gz archive into <paramref name="dir"/>, checking each.</summary>
    internal static void Extract(string archive, string dir, FsddManifest manifest, string source)
    {
        Directory.CreateDirectory(dir);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        byte[] head = new byte[4];
        using (var probe = File.OpenRead(archive)) probe.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        try
        {
            if (head[0] == 'P' && head[1] == 'K')
            {
                using var zip = ZipFile.OpenRead(archive);
                foreach (var e in zip.Entries)
                    if (Wanted(e.FullName, manifest) is { } name)
                    {
                        using var s = e.Open();
                        Store(s, dir, name, manifest, source, seen);
                    }
            }
            else if (head[0] == 0x1f && head[1] == 0x8b)
            {
                using var file = File.OpenRead(archive);
                using var gz = new GZipStream(file, CompressionMode.Decompress);
                using var tar = new TarReader(gz);
                while (tar.GetNextEntry() is { } e)
                    if (e.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && e.DataStream is { } data
                        && Wanted(e.Name, manifest) is { } name)
                        Store(data, dir, name, manifest, source, seen);
            }
            else throw new FsddArchiveException($"{source}: not a zip or tar.gz archive (starts with {Convert.ToHexString(head)})");
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            throw new FsddArchiveException($"{source}: the archive is corrupt or truncated ({e.Message}); {seen.Count} of {manifest.Files.Count} recordings were read");
        }
        if (seen.Count != manifest.Files.Count)
        {
            var missing = manifest.Files.Keys.Where(k => !seen.Contains(k)).ToList();
            throw new FsddArchiveException($"{source}: the archive lacks {missing.Count} of {manifest.Files.Count} recordings " +
                                           $"(first: recordings/{missing[0]}); truncated, or not commit {Commit}?");
        }
    }

    // "<top>/recordings/NAME" or "recordings/NAME" where NAME is in the manifest
    private static string? Wanted(string entry, FsddManifest manifest)
    {
        var parts = entry.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2 || parts.Length > 3 || parts[^2] != "recordings") return null;
        return manifest.Files.ContainsKey(parts[^1]) ? parts[^1] : null;
    }

    private static void Store(Stream s, string dir, string name, FsddManifest manifest, string source, HashSet<string> seen)
    {
        var want = manifest.Files[name];
        string path = Path.Combine(dir, name);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long n = 0;
        using (var f = File.Create(path))
        {
            var buf = new byte[81920];
            for (int k; (k = s.Read(buf)) > 0; n += k)
            {
                hash.AppendData(buf, 0, k);
                f.Write(buf, 0, k);
            }
        }
        string h = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (n != want.Size || h != want.Sha256)
            throw new FsddArchiveException($"{source}: recordings/{name} fails verification ({n} bytes, SHA-256 {h}; expected {want.Size} bytes, {want.Sha256})");
        seen.Add(name);
    }

    private static void AtomicWrite(string path, string text)
    {
        string tmp = $"{path}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}

/// <summary>An FSDD archive that is truncated, corrupt or holds a recording that does not match the manifest.</summary>
public sealed class FsddArchiveException(string message) : Exception(message);
