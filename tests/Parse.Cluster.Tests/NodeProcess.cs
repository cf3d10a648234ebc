using System.Diagnostics;
using System.Text;

namespace Parse.Cluster.Tests;

/// <summary>A <c>parse node</c> child process started from the test's copy of Parse.Cli.dll, with its output kept.</summary>
internal sealed class NodeProcess : IDisposable
{
    private readonly Process _p;
    private readonly StringBuilder _out = new();

    public NodeProcess(IEnumerable<string> args, string? secret)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Parse.Cli.dll"));
        psi.ArgumentList.Add("node");
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["PARSE_SECRET"] = secret ?? "";
        _p = Process.Start(psi)!;
        _p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        _p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        _p.BeginOutputReadLine();
        _p.BeginErrorReadLine();
    }

    public string Output { get { lock (_out) return _out.ToString(); } }

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _p.HasExited;

    /// <summary>Waits for exit; kills the process and fails if it takes longer than <paramref name="timeout"/>.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_p.WaitForExit(timeout))
        {
            _p.Kill(entireProcessTree: true);
            throw new TimeoutException($"node did not exit within {timeout.TotalSeconds:F0} s; output:\n{Output}");
        }
        _p.WaitForExit();
        return _p.ExitCode;
    }

    /// <summary>Waits for exit and fails, with this node's output, unless the exit code is <paramref name="expected"/>.</summary>
    public void ExpectExit(int expected, TimeSpan timeout, string who = "node")
    {
        int code = WaitForExit(timeout);
        if (code != expected)
            throw new Xunit.Sdk.XunitException($"{who} exited with code {code}, expected {expected}; output:\n{Output}");
    }

    /// <summary>Kills the process abruptly (a crash, not a graceful leave).</summary>
    public void Kill()
    {
        _p.Kill(entireProcessTree: true);
        _p.WaitForExit();
    }

    /// <summary>Polls <paramref name="condition"/> until true or the timeout (then throws, with this node's output).</summary>
    public void WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var end = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > end) throw new TimeoutException($"timed out waiting for {what}; output:\n{Output}");
            if (_p.HasExited && !condition()) throw new InvalidOperationException($"node exited ({_p.ExitCode}) before {what}; output:\n{Output}");
            Thread.Sleep(100);
        }
    }

    public void Dispose()
    {
        if (!_p.HasExited) _p.Kill(entireProcessTree: true);
        _p.Dispose();
    }
}
