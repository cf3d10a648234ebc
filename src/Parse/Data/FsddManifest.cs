using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;

namespace Parse.Data;

/// <summary>Expected SHA-256 (lower-case hex) and size in bytes of one file.</summary>
public sealed record ManifestEntry(string Sha256, long Size);

/// <summary>
/// The SHA-256 and size of every FSDD recording at the pinned commit (<see cref="Fsdd.Commit"/>), embedded in the
/// assembly from <c>src/Parse/Data/fsdd-manifest.txt</c>. Lines are <c>SHA256 SIZE NAME</c>; lines starting with
/// <c>#</c> are comments. Every copy of FSDD that PARSE uses outside an explicit data root is checked against it.
/// </summary>
public sealed class FsddManifest
{
    private static readonly Lazy<FsddManifest> EmbeddedManifest = new(LoadEmbedded);
    // directories already verified in this process, keyed by path and a cheap listing stamp (count, sizes, times)
    private static readonly ConcurrentDictionary<string, string> Verified = new(StringComparer.Ordinal);

    private FsddManifest(IReadOnlyDictionary<string, ManifestEntry> files) => Files = files;

    /// <summary>File name (e.g. <c>0_george_0.wav</c>) to expected hash and size, in ordinal name order.</summary>
    public IReadOnlyDictionary<string, ManifestEntry> Files { get; }

    /// <summary>The manifest shipped in the assembly.</summary>
    public static FsddManifest Embedded => EmbeddedManifest.Value;

    /// <summary>Parses manifest text; throws <see cref="FormatException"/> naming the bad line.</summary>
    public static FsddManifest Parse(string text)
    {
        var files = new SortedDictionary<string, ManifestEntry>(StringComparer.Ordinal);
        int n = 0;
        foreach (var raw in text.Split('\n'))
        {
            n++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3 || parts[0].Length != 64 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long size)
                || parts[2].Contains('/') || parts[2].Contains('\\') || parts[2].StartsWith('.'))
                throw new FormatException($"FSDD manifest line {n}: expected 'SHA256 SIZE NAME', got '{line}'");
            files[parts[2]] = new ManifestEntry(parts[0].ToLowerInvariant(), size);
        }
        return new FsddManifest(files);
    }

    /// <summary>Manifest text (the embedded file's format) for the files in <paramref name="dir"/>: a tool for pinning a new snapshot.</summary>
    public static string Build(string dir, IEnumerable<string> comments)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var c in comments) sb.Append("# ").Append(c).Append('\n');
        foreach (var f in Directory.EnumerateFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal))
        {
            string path = Path.Combine(dir, f!);
            sb.Append(Hash(path)).Append(' ').Append(new FileInfo(path).Length.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(f).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>SHA-256 (lower-case hex) of a file.</summary>
    public static string Hash(string path)
    {
        using var s = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    /// <summary>
    /// Checks that <paramref name="dir"/> holds every file of the manifest with the right size and SHA-256
    /// (extra files are ignored). Returns null when it does, else the first problem, naming the file.
    /// A directory that passed is not hashed again in this process unless its listing (names, sizes, times) changed.
    /// </summary>
    public string? Verify(string dir)
    {
        if (!Directory.Exists(dir)) return $"directory {dir} does not exist";
        var present = new Dictionary<string, FileInfo>(StringComparer.Ordinal);
        foreach (var fi in new DirectoryInfo(dir).EnumerateFiles()) present[fi.Name] = fi;
        var stamp = new System.Text.StringBuilder();
        foreach (var (name, e) in Files)
        {
            if (!present.TryGetValue(name, out var fi)) return $"{Path.Combine(dir, name)} is missing ({Files.Count - Files.Keys.Count(present.ContainsKey)} of {Files.Count} recordings missing)";
            if (fi.Length != e.Size) return $"{fi.FullName} has {fi.Length} bytes, expected {e.Size}";
            stamp.Append(name).Append(fi.Length).Append(fi.LastWriteTimeUtc.Ticks);
        }
        string key = Path.GetFullPath(dir), stampText = stamp.ToString();
        if (Verified.TryGetValue(key, out var seen) && seen == stampText) return null;
        foreach (var (name, e) in Files)
        {
            string path = Path.Combine(dir, name), h = Hash(path);
            if (h != e.Sha256) return $"{path} has SHA-256 {h}, expected {e.Sha256}";
        }
        Verified[key] = stampText;
        return null;
    }

    private static FsddManifest LoadEmbedded()
    {
        using var s = typeof(FsddManifest).Assembly.GetManifestResourceStream("fsdd-manifest.txt")
                      ?? throw new InvalidOperationException("the embedded FSDD manifest (fsdd-manifest.txt) is missing from the Parse assembly");
        return Parse(new StreamReader(s).ReadToEnd());
    }
}
