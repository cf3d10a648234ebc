using System.Diagnostics;
using System.Text;

namespace Parse.Tests;

/// <summary>
/// Debian's <c>chromium</c>, run headless to load a page. When no chromium is on PATH the project installs it itself with
/// <c>build/install-chromium.sh</c> (apt-get; needs root and a reachable mirror). When that is impossible the calling
/// test is reported as skipped, with the reason: never passed silently.
/// </summary>
internal static class HeadlessChromium
{
    private static readonly Lazy<(string? Path, string? Why)> Browser = new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Path of the browser; skips the test (with the reason) when it is missing and cannot be installed.</summary>
    public static string Require()
    {
        var (path, why) = Browser.Value;
        Skip.If(path is null, $"headless chromium unavailable: {why}");
        return path!;
    }

    /// <summary>What a page load produced: the DOM after load, and the console messages chromium logged.</summary>
    public sealed record PageLoad(string Dom, IReadOnlyList<string> Console, string Log);

    /// <summary>Loads <paramref name="htmlFile"/> headless; returns the serialized DOM and every console message.</summary>
    public static PageLoad Load(string htmlFile, string? screenshot = null)
    {
        string browser = Require();
        string profile = Directory.CreateTempSubdirectory("parse-chromium").FullName;
        try
        {
            var args = new List<string>
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                "--enable-logging=stderr", "--v=0", $"--user-data-dir={profile}", "--virtual-time-budget=5000",
            };
            if (screenshot is not null) args.AddRange(["--window-size=1280,2400", $"--screenshot={screenshot}"]);
            else args.Add("--dump-dom");
            args.Add(new Uri(Path.GetFullPath(htmlFile)).AbsoluteUri);
            var (code, stdout, stderr) = Run(browser, args, TimeSpan.FromMinutes(3));
            Assert.True(code == 0, $"chromium exited with {code}:\n{stderr}");
            // console messages (console.log/error, uncaught exceptions, blocked resources) are logged as "...:CONSOLE..."
            var console = stderr.Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal)).ToList();
            return new PageLoad(stdout, console, stderr);
        }
        finally
        {
            try { Directory.Delete(profile, true); } catch (IOException) { }
        }
    }

    private static (string? Path, string? Why) Locate()
    {
        if (Find() is { } found) return (found, null);
        string? root = RepoRoot();
        if (root is null) return (null, "no chromium on PATH, and the repository (build/install-chromium.sh) was not found above the test binaries");
        string script = Path.Combine(root, "build", "install-chromium.sh");
        var (code, stdout, stderr) = Run("bash", [script], TimeSpan.FromMinutes(15));
        if (code == 0 && Find() is { } installed) return (installed, null);
        string tail = string.Join("\n", (stdout + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(6));
        return (null, $"not on PATH, and {script} failed (exit code {code}): {tail}");
    }

    private static string? Find()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var name in new[] { "chromium", "chromium-browser" })
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    /// <summary>The repository root (the directory holding Parse.slnx) above the test binaries, or null.</summary>
    public static string? RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Parse.slnx"))) return d.FullName;
        return null;
    }

    /// <summary>Runs a process to completion, killing it after <paramref name="timeout"/>.</summary>
    public static (int Code, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, TimeSpan timeout,
        string? workDir = null, IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (workDir is not null) psi.WorkingDirectory = workDir;
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.Append(e.Data).Append('\n'); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.Append(e.Data).Append('\n'); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{file} {string.Join(' ', psi.ArgumentList)} did not finish within {timeout.TotalMinutes:F0} min:\n{stderr}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.ToString(), stderr.ToString());
    }
}
