using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parse.Config;

namespace Parse.Reporting;

/// <summary>JSON settings of run files: keys and strings are written as they are (<c>a+b</c>, not <c>a\u002Bb</c>).</summary>
public static class RunJson
{
    /// <summary>Indented, minimal escaping (run.json, summary.json).</summary>
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    /// <summary>One line, minimal escaping (metrics.jsonl).</summary>
    public static readonly JsonSerializerOptions Line = new() { WriteIndented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}

/// <summary>
/// <c>run.json</c>: what produced a run and when. Fields: <c>run</c>, <c>status</c> (running, completed, failed,
/// interrupted), <c>reason</c>, <c>name</c>, <c>strategy</c>, <c>seed</c>, <c>tool_version</c> (informational version
/// of the Parse assembly), <c>git_commit</c> (read from the repository's .git without running git; null when
/// unknown), <c>started_utc</c>, <c>ended_utc</c> (ISO 8601), <c>host</c>, <c>os</c>, <c>dotnet</c>,
/// <c>process_id</c> and <c>command_line</c>.
/// </summary>
public static class RunInfo
{
    /// <summary>The object written when a run starts.</summary>
    public static JsonObject Start(string run, ExperimentConfig? cfg) => new()
    {
        ["run"] = run,
        ["status"] = "running",
        ["reason"] = null,
        ["name"] = cfg?.Name,
        ["strategy"] = cfg?.Strategy,
        ["seed"] = cfg?.Seed,
        ["tool_version"] = ToolVersion,
        ["git_commit"] = GitCommit(AppContext.BaseDirectory) ?? GitCommit(Directory.GetCurrentDirectory()),
        ["started_utc"] = Utc(DateTime.UtcNow),
        ["ended_utc"] = null,
        ["host"] = Environment.MachineName,
        ["os"] = RuntimeInformation.OSDescription + " " + RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
        ["dotnet"] = RuntimeInformation.FrameworkDescription,
        ["process_id"] = Environment.ProcessId,
        ["command_line"] = new JsonArray(Environment.GetCommandLineArgs().Select(a => (JsonNode?)a).ToArray()),
    };

    /// <summary>Records the end of a run.</summary>
    public static void Finish(JsonObject info, string status, string? reason)
    {
        info["status"] = status;
        info["reason"] = reason;
        info["ended_utc"] = Utc(DateTime.UtcNow);
    }

    /// <summary>Informational version of the Parse assembly (e.g. <c>1.0.0+COMMIT</c>).</summary>
    public static string ToolVersion { get; } =
        typeof(RunInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(RunInfo).Assembly.GetName().Version?.ToString() ?? "unknown";

    private static string Utc(DateTime t) => t.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Commit checked out in the nearest git repository above <paramref name="start"/>, read from files: <c>.git</c>
    /// (a directory, or a file <c>gitdir: ...</c> in worktrees), <c>HEAD</c>, the ref it names (loose or in
    /// <c>packed-refs</c>, also in the common directory of a worktree). Null when there is no repository or it cannot be read.
    /// </summary>
    public static string? GitCommit(string start)
    {
        try
        {
            for (var d = new DirectoryInfo(Path.GetFullPath(start)); d is not null; d = d.Parent)
            {
                string dotGit = Path.Combine(d.FullName, ".git");
                string? gitDir = Directory.Exists(dotGit) ? dotGit
                    : File.Exists(dotGit) && File.ReadAllText(dotGit).Trim() is var t && t.StartsWith("gitdir:", StringComparison.Ordinal)
                        ? Path.GetFullPath(t["gitdir:".Length..].Trim(), d.FullName) : null;
                if (gitDir is null) continue;
                string head = File.ReadAllText(Path.Combine(gitDir, "HEAD")).Trim();
                if (!head.StartsWith("ref:", StringComparison.Ordinal)) return IsSha(head) ? head : null;
                string name = head["ref:".Length..].Trim();
                string common = File.Exists(Path.Combine(gitDir, "commondir"))
                    ? Path.GetFullPath(File.ReadAllText(Path.Combine(gitDir, "commondir")).Trim(), gitDir) : gitDir;
                foreach (var dir in new[] { gitDir, common }.Distinct())
                {
                    string loose = Path.Combine(dir, name);
                    if (File.Exists(loose) && File.ReadAllText(loose).Trim() is var sha && IsSha(sha)) return sha;
                    string packed = Path.Combine(dir, "packed-refs");
                    if (!File.Exists(packed)) continue;
                    foreach (var line in File.ReadLines(packed))
                    {
                        var parts = line.Split(' ');
                        if (parts.Length == 2 && parts[1] == name && IsSha(parts[0])) return parts[0];
                    }
                }
                return null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { }
        return null;
    }

    private static bool IsSha(string s) => s.Length is 40 or 64 && s.All(Uri.IsHexDigit);
}
