using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Parse.Config;
using Parse.Data;

namespace Parse.Tests;

/// <summary>
/// A minimal HTTP/1.1 server on the loopback interface: answers the i-th request with the i-th scripted response
/// (the last one repeats). A response may declare a longer body than it sends (a connection cut mid-download).
/// </summary>
internal sealed class LoopbackServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<(byte[] Body, long DeclaredLength)> _script;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _requests;

    /// <summary>When true, the connection is held open after each response (a stalled download) until disposal.</summary>
    public bool HoldOpen { get; init; }

    public LoopbackServer(params (byte[] Body, long DeclaredLength)[] script)
    {
        _script = script.ToList();
        _listener.Start();
        _loop = Task.Run(Serve);
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/fsdd.zip";
    public int Requests => Volatile.Read(ref _requests);

    public static (byte[], long) Ok(byte[] body) => (body, body.Length);

    private async Task Serve()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    var head = new StringBuilder();
                    var one = new byte[1];
                    while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && head.Length < 16384
                           && await stream.ReadAsync(one, _stop.Token) == 1)
                        head.Append((char)one[0]);
                    int i = Interlocked.Increment(ref _requests) - 1;
                    var (body, declared) = _script[Math.Min(i, _script.Count - 1)];
                    var header = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n");
                    await stream.WriteAsync(header, _stop.Token);
                    await stream.WriteAsync(body, _stop.Token);
                    await stream.FlushAsync(_stop.Token);
                    if (HoldOpen) await Task.Delay(Timeout.Infinite, _stop.Token);
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException) { }
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try { _loop.Wait(TimeSpan.FromSeconds(10)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}

/// <summary>Archives of the pinned FSDD commit built from the local mirror (../shared/datasets/fsdd), as GitHub lays them out.</summary>
internal static class FsddArchives
{
    private static readonly Lazy<string?> Shared = new(() =>
    {
        string? repo = DataPaths.FindRepoRoot(AppContext.BaseDirectory);
        if (repo is null) return null;
        string dir = Path.GetFullPath(Path.Combine(repo, "..", "shared", "datasets", "fsdd", "recordings"));
        return Directory.Exists(dir) && FsddManifest.Embedded.Verify(dir) is null ? dir : null;
    });

    /// <summary>The local mirror's recordings directory, or null (then these tests are skipped).</summary>
    public static string? SharedRecordings => Shared.Value;

    /// <summary>A zip whose <paramref name="corrupt"/> recording has one byte flipped (a valid archive, a wrong file).</summary>
    public static byte[] Zip(string? corrupt)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            string top = $"free-spoken-digit-dataset-{Fsdd.Commit}/";
            zip.CreateEntry(top + "README.md").Open().Dispose();
            foreach (var name in FsddManifest.Embedded.Files.Keys)
            {
                var bytes = File.ReadAllBytes(Path.Combine(SharedRecordings!, name));
                if (name == corrupt) bytes[bytes.Length / 2] ^= 0x5a;
                using var s = zip.CreateEntry(top + "recordings/" + name, CompressionLevel.NoCompression).Open();
                s.Write(bytes);
            }
        }
        return ms.ToArray();
    }
}

[Collection("fsdd-fetch")]
public class FsddFetchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("parse-fsdd").FullName;
    private static readonly FsddFetchOptions Fast = new(Attempts: 3, RetryDelay: TimeSpan.FromMilliseconds(20), Timeout: TimeSpan.FromMinutes(2));

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>Paths with no data root and no local mirror (the repository root is a fresh temp dir), so only the cache and the download remain.</summary>
    private DataPaths Clone(string url) => new(null, Path.Combine(_dir, "cache"), Path.Combine(_dir, "clone", "repo")) { FsddUrl = url };

    [Fact]
    public void The_embedded_manifest_lists_3000_recordings_of_ten_digits_and_six_speakers()
    {
        var m = FsddManifest.Embedded;
        Assert.Equal(3000, m.Files.Count);
        Assert.Equal(10, m.Files.Keys.Select(k => k[0]).Distinct().Count());
        Assert.Equal(6, m.Files.Keys.Select(k => k.Split('_')[1]).Distinct().Count());
        Assert.All(m.Files.Values, e => Assert.Matches("^[0-9a-f]{64}$", e.Sha256));
        Assert.Throws<FormatException>(() => FsddManifest.Parse("abc 12 x.wav"));
    }

    /// <summary>A small stand-in for the real recordings: five files, their manifest, and zips of them (GitHub's layout).</summary>
    private (FsddFetchOptions Options, byte[] Good, byte[] Corrupt) Small()
    {
        string src = Path.Combine(_dir, "small");
        Directory.CreateDirectory(src);
        var rng = new Random(7);
        for (int i = 0; i < 5; i++)
        {
            var b = new byte[2000 + 100 * i];
            rng.NextBytes(b);
            File.WriteAllBytes(Path.Combine(src, $"{i}_tester_{i}.wav"), b);
        }
        var manifest = FsddManifest.Parse(FsddManifest.Build(src, ["test"]));
        byte[] Zip(string? corrupt)
        {
            var ms = new MemoryStream();
            using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
                foreach (var f in Directory.GetFiles(src).Order(StringComparer.Ordinal))
                {
                    var bytes = File.ReadAllBytes(f);
                    if (Path.GetFileName(f) == corrupt) bytes[10] ^= 0x5a;
                    using var s = zip.CreateEntry($"free-spoken-digit-dataset-{Fsdd.Commit}/recordings/{Path.GetFileName(f)}").Open();
                    s.Write(bytes);
                }
            return ms.ToArray();
        }
        return (Fast with { Manifest = manifest }, Zip(null), Zip("3_tester_3.wav"));
    }

    [SkippableFact]
    public void A_good_archive_from_a_loopback_server_gives_verified_recordings_in_the_cache()
    {
        Skip.If(FsddArchives.SharedRecordings is null, "no verified local FSDD mirror (../shared/datasets/fsdd) to build the test archive from");
        using var server = new LoopbackServer(LoopbackServer.Ok(FsddArchives.Zip(null)));
        var paths = Clone(server.Url);
        Assert.Equal("download", Fsdd.Probe(paths, fetch: true).Source);
        var log = new StringWriter();
        string dir = Fsdd.Locate(paths, fetch: true, log, Fast);
        Assert.Equal(paths.FsddCache, dir);
        Assert.Equal(1, server.Requests);
        Assert.Equal(3000, Directory.GetFiles(dir, "*.wav").Length);
        Assert.Contains("verified", log.ToString());
        Assert.Contains(Fsdd.Commit, File.ReadAllText(Path.Combine(_dir, "cache", "fsdd", "SOURCE.txt")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(_dir, "cache", "fsdd"), ".fetch-*"));
        // now it comes from the cache (verified: every size and SHA-256), without a request
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var probe = Fsdd.Probe(paths, fetch: true);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"verifying 3000 recordings took {sw.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(("cache", dir), (probe.Source, probe.Directory));
        Assert.Equal(dir, Fsdd.Locate(paths, fetch: true, null, Fast));
        Assert.Equal(1, server.Requests);
        Assert.Equal(3000, AvMnist.ListRecordings(dir).Count);
        // a changed byte (same size) and a missing file are caught and named
        string victim = Path.Combine(dir, "7_theo_12.wav");
        var b = File.ReadAllBytes(victim);
        b[100] ^= 1;
        File.WriteAllBytes(victim, b);
        File.SetLastWriteTimeUtc(victim, DateTime.UtcNow.AddMinutes(1));
        Assert.Contains("7_theo_12.wav has SHA-256", FsddManifest.Embedded.Verify(dir));
        Assert.Equal("download", Fsdd.Probe(paths, fetch: true).Source);
        File.Delete(victim);
        Assert.Contains("7_theo_12.wav is missing", FsddManifest.Embedded.Verify(dir));
    }

    [Fact]
    public void A_corrupt_archive_is_retried_then_refused_naming_the_file_and_the_url()
    {
        var (options, _, corrupt) = Small();
        using var server = new LoopbackServer(LoopbackServer.Ok(corrupt));
        string target = Path.Combine(_dir, "cache", "fsdd", "recordings");
        var e = Assert.Throws<ConfigException>(() => Fsdd.Download(server.Url, target, options));
        Assert.Equal(3, server.Requests);
        Assert.Contains("recordings/3_tester_3.wav fails verification", e.Message);
        Assert.Contains(server.Url, e.Message);
        Assert.Contains("attempt 3", e.Message);
        Assert.False(Directory.Exists(target));
        Assert.Empty(Directory.GetDirectories(Path.Combine(_dir, "cache", "fsdd"), ".fetch-*"));
    }

    [Fact]
    public void A_truncated_download_is_retried_and_a_later_good_one_is_accepted()
    {
        var (options, good, _) = Small();
        var half = good[..(good.Length / 2)];
        // 1: connection cut after half the declared bytes; 2: a truncated file served as if complete; 3: the real thing
        using var server = new LoopbackServer((half, good.Length), LoopbackServer.Ok(half), LoopbackServer.Ok(good));
        var log = new StringWriter();
        string target = Path.Combine(_dir, "cache", "fsdd", "recordings");
        Fsdd.Download(server.Url, target, options, log);
        Assert.Equal(3, server.Requests);
        Assert.Equal(5, Directory.GetFiles(target).Length);
        string text = log.ToString();
        Assert.Contains("attempt 1/3", text);
        Assert.Contains("attempt 2/3", text);
        Assert.Contains("corrupt or truncated", text);
    }

    [Fact]
    public void A_truncated_archive_every_time_is_refused()
    {
        var (options, good, _) = Small();
        using var server = new LoopbackServer(LoopbackServer.Ok(good[..(good.Length * 3 / 4)]));
        var e = Assert.Throws<ConfigException>(() => Fsdd.Download(server.Url, Path.Combine(_dir, "t"), options with { Attempts = 2 }));
        Assert.Equal(2, server.Requests);
        Assert.Contains("corrupt or truncated", e.Message);
        Assert.Contains(server.Url, e.Message);
    }

    [Fact]
    public void A_stalled_download_times_out_with_a_clear_message()
    {
        var (options, good, _) = Small();
        using var server = new LoopbackServer((good[..(good.Length / 2)], good.Length)) { HoldOpen = true };
        var e = Assert.Throws<ConfigException>(() => Fsdd.Download(server.Url, Path.Combine(_dir, "s"), options with { Attempts = 1, Timeout = TimeSpan.FromSeconds(1) }));
        Assert.Contains("no complete answer within 1 s", e.Message);
        Assert.Contains(server.Url, e.Message);
    }

    [Fact]
    public void Without_a_server_the_message_says_offline_and_what_to_fetch_from_where()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();   // nothing listens there now
        string url = $"http://127.0.0.1:{port}/fsdd.zip";
        var paths = Clone(url);
        var e = Assert.Throws<ConfigException>(() => Fsdd.Locate(paths, fetch: true, null, Fast with { Attempts = 2 }));
        Assert.Contains("unreachable (offline?)", e.Message);
        Assert.Contains($"download {url}", e.Message);
        Assert.Contains(Fsdd.Commit, e.Message);
        Assert.Contains(paths.FsddCache, e.Message);
        Assert.Contains("PARSE_DATA_ROOT", e.Message);
    }

    [Fact]
    public void With_fetch_off_and_no_copy_the_probe_says_unavailable_with_the_reason()
    {
        // PARSE_DATA_ROOT-style root that is empty, an empty cache, fetch disabled
        string root = Path.Combine(_dir, "empty-root");
        Directory.CreateDirectory(root);
        var cfg = new DataConfig { Root = root, CacheDir = Path.Combine(_dir, "empty-cache"), Fetch = false, FsddUrl = "http://127.0.0.1:9/x.zip" };
        var paths = DataPaths.Resolve(cfg, _dir);
        var probe = Fsdd.Probe(paths, cfg.Fetch);
        Assert.False(probe.Available);
        Assert.Equal("none", probe.Source);
        Assert.Contains("data.fetch is false", probe.Reason);
        Assert.Contains(Path.Combine(root, "fsdd", "recordings"), probe.Reason);
        Assert.Contains("http://127.0.0.1:9/x.zip", probe.Reason);
        var e = Assert.Throws<ConfigException>(() => Fsdd.Locate(paths, cfg.Fetch));
        Assert.Equal(probe.Reason, e.Message);
        // and the test gate used by the real-data tests reports the same
        Assert.Contains("data.fetch is false", RealData.Unavailable(cfg, _dir, fetch: false));
    }

    [SkippableFact]
    public void Parse_data_fetch_fsdd_reports_a_verified_local_mirror_without_downloading()
    {
        Skip.If(FsddArchives.SharedRecordings is null, "no verified local FSDD mirror at ../shared/datasets/fsdd");
        var old = Console.Out;
        var sw = new StringWriter();
        Console.SetOut(sw);
        int code;
        try { code = Parse.Cli.Program.Main(["data", "fetch", "fsdd", "--cache-dir", Path.Combine(_dir, "c"), "--url", "http://127.0.0.1:9/none.zip"]); }
        finally { Console.SetOut(old); }
        Assert.Equal(0, code);
        Assert.Contains("local mirror", sw.ToString());
        Assert.False(Directory.Exists(Path.Combine(_dir, "c")));
    }

    [Fact]
    public void The_archive_url_comes_from_the_config_key_else_the_default()
    {
        Assert.Equal("http://127.0.0.1:1/a.tar.gz", DataPaths.Resolve(new DataConfig { FsddUrl = "http://127.0.0.1:1/a.tar.gz" }, _dir).FsddUrl);
        if (Environment.GetEnvironmentVariable(Fsdd.UrlVariable) is null)
            Assert.Equal(Fsdd.DefaultUrl, DataPaths.Resolve(new DataConfig(), _dir).FsddUrl);
        Assert.Contains(Fsdd.Commit, Fsdd.DefaultUrl);
    }
}
