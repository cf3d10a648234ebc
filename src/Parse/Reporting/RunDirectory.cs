namespace Parse.Reporting;

/// <summary>
/// A run directory written atomically: everything goes into a hidden sibling staging directory that is
/// renamed to the final name only when complete. A failed run leaves no directory under the final name.
/// </summary>
public sealed class RunDirectory : IDisposable
{
    private bool _committed;

    private RunDirectory(string final, string staging)
    {
        FinalPath = final;
        StagingPath = staging;
    }

    public string FinalPath { get; }
    public string StagingPath { get; }

    /// <summary>Starts a run directory; fails if <paramref name="path"/> exists and is not empty, unless <paramref name="overwrite"/>.</summary>
    public static RunDirectory Create(string path, bool overwrite)
    {
        string final = Path.GetFullPath(path);
        if (Directory.Exists(final) && Directory.EnumerateFileSystemEntries(final).Any() && !overwrite)
            throw new Config.ConfigException($"output directory already exists and is not empty: {final} (use --force to replace it)");
        string parent = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(final)}.partial-{Environment.ProcessId}");
        if (Directory.Exists(staging)) Directory.Delete(staging, true);
        Directory.CreateDirectory(staging);
        return new RunDirectory(final, staging);
    }

    /// <summary>Path of a file inside the staging directory.</summary>
    public string File(string name) => Path.Combine(StagingPath, name);

    /// <summary>Moves the staging directory to its final name.</summary>
    public void Commit()
    {
        if (Directory.Exists(FinalPath)) Directory.Delete(FinalPath, true);
        Directory.Move(StagingPath, FinalPath);
        _committed = true;
    }

    /// <summary>Removes the staging directory if the run did not complete.</summary>
    public void Dispose()
    {
        if (!_committed && Directory.Exists(StagingPath)) Directory.Delete(StagingPath, true);
    }
}

/// <summary>Atomic single-file writes (temp file in the same directory, then rename).</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        string tmp = path + $".tmp-{Environment.ProcessId}";
        System.IO.File.WriteAllText(tmp, text);
        System.IO.File.Move(tmp, path, overwrite: true);
    }
}
