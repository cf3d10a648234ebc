using System.Text.Json.Nodes;
using Parse.Config;

namespace Parse.Reporting;

/// <summary>
/// A run directory written atomically: everything goes into the sibling staging directory <c>NAME.partial</c>,
/// which is renamed to <c>NAME</c> only when complete. While the run goes on, <c>NAME.partial</c> holds
/// <c>run.json</c>, a <c>RUNNING</c> marker and the metrics so far (<c>metrics.jsonl</c>). A run that fails or is
/// interrupted keeps <c>NAME.partial</c>, marked with a <c>FAILED</c> or <c>INTERRUPTED</c> file giving the reason;
/// nothing ever appears under the final name. A run that fails while setting up (before training) leaves nothing.
/// </summary>
public sealed class RunDirectory : IDisposable
{
    /// <summary>Marker file present while a run is writing its staging directory (holds the process id).</summary>
    public const string RunningMarker = "RUNNING";
    /// <summary>Marker file of a run that failed (holds the reason).</summary>
    public const string FailedMarker = "FAILED";
    /// <summary>Marker file of a run stopped by Ctrl-C or SIGTERM (holds the reason).</summary>
    public const string InterruptedMarker = "INTERRUPTED";

    private readonly JsonObject _info;
    private bool _closed;

    private RunDirectory(string final, string staging, JsonObject info)
    {
        FinalPath = final;
        StagingPath = staging;
        _info = info;
    }

    /// <summary>Final directory (exists only after <see cref="Commit"/>).</summary>
    public string FinalPath { get; }
    /// <summary>Staging directory <c>NAME.partial</c>.</summary>
    public string StagingPath { get; }
    /// <summary>Run name: the final directory's name (the <c>run</c> column of the metrics).</summary>
    public string Name => Path.GetFileName(FinalPath);

    /// <summary>The staging directory of the run whose final directory is <paramref name="path"/>.</summary>
    public static string PartialPath(string path) => Path.GetFullPath(path) + ".partial";

    /// <summary>
    /// Starts a run directory; fails if <paramref name="path"/> exists and is not empty, unless <paramref name="overwrite"/>,
    /// and if another live process is writing <c>NAME.partial</c>. A stale <c>NAME.partial</c> (failed, interrupted, or
    /// left by a process that died) is replaced. Writes <c>run.json</c> (see <see cref="RunInfo"/>) and the RUNNING marker.
    /// </summary>
    public static RunDirectory Create(string path, bool overwrite, ExperimentConfig? cfg = null)
    {
        string final = Path.GetFullPath(path);
        // every check on the output place happens here, before any data is loaded or any agent trains
        if (System.IO.File.Exists(final)) throw new ConfigException($"output directory {final} is an existing file, not a directory; choose another --out");
        if (Directory.Exists(final) && Directory.EnumerateFileSystemEntries(final).Any() && !overwrite)
            throw new ConfigException($"output directory already exists and is not empty: {final} (use --force to replace it)");
        string parent = Path.GetDirectoryName(final)!;
        string staging = PartialPath(final);
        try
        {
            Directory.CreateDirectory(parent);
            RemoveStalePartials(parent);
            if (Directory.Exists(staging))
            {
                if (LiveOwner(staging) is { } pid)
                    throw new ConfigException($"{staging} is being written by a running process (pid {pid}); choose another --out");
                Directory.Delete(staging, true);
            }
            Directory.CreateDirectory(staging);
            var dir = new RunDirectory(final, staging, RunInfo.Start(Path.GetFileName(final), cfg));
            AtomicFile.WriteAllText(dir.File(RunningMarker), OwnerLine());
            dir.WriteInfo();
            return dir;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            if (Directory.Exists(staging) && LiveOwner(staging) is null) try { Directory.Delete(staging, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new ConfigException($"cannot write the run directory {final}: {e.Message} (choose a writable --out)");
        }
    }

    /// <summary>
    /// Removes the <c>*.partial</c> directories in <paramref name="parent"/> whose RUNNING marker names a process that
    /// no longer runs (killed with SIGKILL, power loss: it could mark nothing); returns their paths. Directories marked
    /// FAILED or INTERRUPTED are kept (they hold the metrics so far and the reason), and so are those of live processes.
    /// </summary>
    public static IReadOnlyList<string> RemoveStalePartials(string parent)
    {
        var removed = new List<string>();
        if (!Directory.Exists(parent)) return removed;
        foreach (var d in Directory.EnumerateDirectories(parent, "*.partial"))
        {
            string marker = Path.Combine(d, RunningMarker);
            if (!System.IO.File.Exists(marker) || LiveOwner(d) is not null || OwnedByThisProcess(marker)) continue;
            if (System.IO.File.Exists(Path.Combine(d, FailedMarker)) || System.IO.File.Exists(Path.Combine(d, InterruptedMarker))) continue;
            try { Directory.Delete(d, true); removed.Add(d); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // another process got there first
        }
        return removed;
    }

    private static bool OwnedByThisProcess(string marker)
    {
        try { return System.IO.File.ReadAllText(marker).Split(' ', '\n')[0].Trim() == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture); }
        catch (IOException) { return true; }   // unreadable right now: leave it
    }

    /// <summary>"PID STARTTICKS": the process id and its start time, so a recycled pid is not taken for the writer.</summary>
    private static string OwnerLine()
    {
        using var me = System.Diagnostics.Process.GetCurrentProcess();
        return $"{Environment.ProcessId} {me.StartTime.ToUniversalTime().Ticks}\n";
    }

    /// <summary>Path of a file inside the staging directory.</summary>
    public string File(string name) => Path.Combine(StagingPath, name);

    /// <summary>Completes <c>run.json</c> and moves the staging directory to its final name.</summary>
    public void Commit()
    {
        RunInfo.Finish(_info, "completed", null);
        WriteInfo();
        System.IO.File.Delete(File(RunningMarker));
        if (Directory.Exists(FinalPath)) Directory.Delete(FinalPath, true);
        Directory.Move(StagingPath, FinalPath);
        _closed = true;
    }

    /// <summary>Keeps the staging directory, marked FAILED (or INTERRUPTED) with <paramref name="reason"/>; run.json records it.</summary>
    public void Fail(string reason, bool interrupted = false)
    {
        if (_closed) return;
        _closed = true;
        try
        {
            string status = interrupted ? "interrupted" : "failed";
            RunInfo.Finish(_info, status, reason);
            WriteInfo();
            AtomicFile.WriteAllText(File(interrupted ? InterruptedMarker : FailedMarker),
                $"{status} at {DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}: {reason}\n");
            System.IO.File.Delete(File(RunningMarker));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // never hide the run's own error
    }

    /// <summary>Removes the staging directory (a run that failed before it started: nothing worth keeping).</summary>
    public void Abandon()
    {
        if (_closed) return;
        _closed = true;
        if (Directory.Exists(StagingPath)) Directory.Delete(StagingPath, true);
    }

    /// <summary>A run neither committed nor failed explicitly is kept and marked FAILED.</summary>
    public void Dispose()
    {
        if (!_closed && Directory.Exists(StagingPath)) Fail("the run ended without completing (see the error printed by the command)");
    }

    private void WriteInfo() => AtomicFile.WriteAllText(File("run.json"), _info.ToJsonString(RunJson.Indented));

    private static int? LiveOwner(string staging)
    {
        string marker = Path.Combine(staging, RunningMarker);
        string[] f;
        try { f = System.IO.File.Exists(marker) ? System.IO.File.ReadAllText(marker).Split(' ', '\n', StringSplitOptions.RemoveEmptyEntries) : []; }
        catch (IOException) { return null; }
        if (f.Length == 0 || !int.TryParse(f[0], out int pid)) return null;
        if (pid == Environment.ProcessId) return null;
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            if (p.HasExited) return null;
            // same pid, different process (recycled id): the writer is gone
            if (f.Length > 1 && long.TryParse(f[1], out long ticks) && Math.Abs(p.StartTime.ToUniversalTime().Ticks - ticks) > TimeSpan.TicksPerSecond) return null;
            return pid;
        }
        catch (ArgumentException) { return null; }
        catch (InvalidOperationException) { return null; }
        catch (System.ComponentModel.Win32Exception) { return pid; }   // cannot inspect it: assume it is alive
    }
}

/// <summary>Atomic single-file writes (temp file in the same directory, then rename).</summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="text"/> to a temporary file beside <paramref name="path"/> and renames it into place.</summary>
    public static void WriteAllText(string path, string text)
    {
        string tmp = path + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            System.IO.File.WriteAllText(tmp, text);
            System.IO.File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (System.IO.File.Exists(tmp)) System.IO.File.Delete(tmp);
        }
    }
}
