using System.Globalization;
using Parse.Config;

namespace Parse.Data.Tabular;

/// <summary>
/// Per-agent files of multiview-csv: a training file path (<c>data.file</c>, <c>views.NAME.file</c>,
/// <c>data.label_file</c>) containing <c>{agent}</c> names one file per agent, with the 0-based agent id in place of
/// the placeholder (<c>data/agent-{agent}/audio.csv</c>). Each process reads only the files of the agents it hosts,
/// as in a deployment where every host holds only its own agents' data. Test files are shared and have no placeholder.
/// </summary>
public static class AgentFiles
{
    /// <summary>The placeholder replaced by the agent id.</summary>
    public const string Placeholder = "{agent}";

    /// <summary>True if any training file path of <paramref name="d"/> has the placeholder.</summary>
    public static bool Used(DataConfig d) => TrainingPaths(d).Any(p => p.Path?.Contains(Placeholder) == true);

    /// <summary>The first key holding a per-agent path (for messages).</summary>
    public static string Key(DataConfig d) => TrainingPaths(d).First(p => p.Path?.Contains(Placeholder) == true).Key;

    private static IEnumerable<(string Key, string? Path)> TrainingPaths(DataConfig d) =>
        new[] { ("data.file", d.File), ("data.label_file", d.LabelFile) }
            .Concat((d.Views ?? []).Select(v => ($"data.views.{v.Key}.file", v.Value.File)));

    /// <summary>Agents whose files this process reads: the hosted ones, or every agent (the simulator).</summary>
    internal static IEnumerable<int> Hosted(int agentCount, IReadOnlySet<int>? hosted) =>
        Enumerable.Range(0, agentCount).Where(a => hosted is null || hosted.Contains(a));

    /// <summary>Agent <paramref name="agent"/>'s file for <paramref name="pattern"/> (null stays null); a missing file is
    /// refused naming the key, the agent and the path.</summary>
    internal static string? Path(DataConfig d, string key, string? pattern, int agent, Func<string, string> full)
    {
        if (pattern is null) return null;
        string path = full(pattern.Replace(Placeholder, agent.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        if (!File.Exists(path))
            throw new ConfigException($"{key}: agent {agent}'s file not found: {path} (from '{pattern}'; with per-agent files every hosted agent needs its own file)");
        return path;
    }

    /// <summary>Appends one message per misuse of the placeholder to <paramref name="errors"/>.</summary>
    internal static void Validate(DataConfig d, bool anyTest, List<string> errors)
    {
        var test = new[] { ("data.test_file", d.TestFile), ("data.test_label_file", d.TestLabelFile) }
            .Concat((d.Views ?? []).Select(v => ($"data.views.{v.Key}.test_file", v.Value.TestFile)));
        foreach (var (key, p) in test)
            if (p?.Contains(Placeholder) == true)
                errors.Add($"{key}: test files are shared by every agent; {Placeholder} only applies to training files");
        if (!Used(d)) return;
        foreach (var (key, p) in TrainingPaths(d))
            if (p is not null && !p.Contains(Placeholder))
                errors.Add($"{key}: '{p}' has no {Placeholder} but {Key(d)} does; with per-agent files every training file is per agent");
        if (d.AgentColumn is not null) errors.Add($"data.agent_column: not together with per-agent files ({Key(d)} has {Placeholder}); the files say which agent a row belongs to");
        if (!anyTest) errors.Add($"{Key(d)}: per-agent files need shared test files (data.test_file or views.NAME.test_file)");
        if (d.MaxTrain is not null) errors.Add("data.max_train: does not apply with per-agent files (each agent keeps all its rows)");
        if (d.Partition.Kind != "iid") errors.Add($"data.partition.kind: '{d.Partition.Kind}' does not apply with per-agent files (the files are the partition)");
    }
}
