using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Parse.Cluster.Launch;

/// <summary>One <c>parse node</c> process of a chaos trial: started, killed, paused and waited for, its output kept in memory and in a log file.</summary>
internal sealed class ChaosNode : IDisposable
{
    private readonly Process _p;
    private readonly StringBuilder _out = new();
    private readonly StreamWriter _log;
    private bool _closed;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    private const int SigStop = 19, SigCont = 18;

    public ChaosNode(IReadOnlyList<string> cli, IEnumerable<string> args, string secret, string logPath)
    {
        var psi = new ProcessStartInfo(cli[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in cli.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment[Launcher.SecretVariable] = secret;
        _log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        _p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {cli[0]}");
        _p.OutputDataReceived += (_, e) => Append(e.Data);
        _p.ErrorDataReceived += (_, e) => Append(e.Data);
        _p.BeginOutputReadLine();
        _p.BeginErrorReadLine();
        Started = DateTime.UtcNow;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_out)
        {
            if (_closed) return;
            if (ReadyAt is null && line.Contains(" hosting agents ", StringComparison.Ordinal)) ReadyAt = DateTime.UtcNow;
            _out.AppendLine(line);
            _log.WriteLine(line);
        }
    }

    public DateTime Started { get; }

    /// <summary>When the node said it was up and joining ("node ... hosting agents ..."); null before.</summary>
    public DateTime? ReadyAt { get; private set; }

    /// <summary>When the process exited (UTC); null while it runs.</summary>
    public DateTime? ExitedAt => _p.HasExited ? _p.ExitTime.ToUniversalTime() : null;
    public string Output { get { lock (_out) return _out.ToString(); } }
    public bool HasExited => _p.HasExited;
    public int ExitCode => _p.ExitCode;
    public bool Killed { get; private set; }

    /// <summary>kill -9: a crash, nothing flushed.</summary>
    public void Kill()
    {
        Killed = true;
        try { _p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _p.WaitForExit(10_000);
    }

    /// <summary>SIGSTOP (true) or SIGCONT (false); false if signals are not available here.</summary>
    public bool Pause(bool stop) => !OperatingSystem.IsWindows() && !_p.HasExited && SendSignal(_p.Id, stop ? SigStop : SigCont) == 0;

    /// <summary>Waits until exit or <paramref name="until"/>; true if it exited.</summary>
    public bool WaitUntil(DateTime until) => _p.WaitForExit((int)Math.Max(0, Math.Min(int.MaxValue, (until - DateTime.UtcNow).TotalMilliseconds)));

    /// <summary>Highest "agent A: round R closed" in this process's output for <paramref name="agent"/> (0 if none).</summary>
    public int LastClosed(int agent)
    {
        string prefix = $"agent {agent}: round ";
        int best = 0;
        foreach (var line in Output.Split('\n'))
        {
            int i = line.IndexOf(prefix, StringComparison.Ordinal);
            if (i < 0) continue;
            var rest = line[(i + prefix.Length)..];
            int sp = rest.IndexOf(' ');
            if (sp > 0 && rest[sp..].StartsWith(" closed", StringComparison.Ordinal) && int.TryParse(rest[..sp], out int r)) best = Math.Max(best, r);
        }
        return best;
    }

    public void Dispose()
    {
        try { if (!_p.HasExited) { Pause(stop: false); _p.Kill(entireProcessTree: true); _p.WaitForExit(10_000); } }
        catch (InvalidOperationException) { }
        _p.Dispose();
        lock (_out) { _closed = true; _log.Dispose(); }
    }
}
