using Parse.Config;

namespace Parse.Data;

/// <summary>Known datasets by <c>data.name</c>.</summary>
public static class DatasetRegistry
{
    /// <summary>Names accepted in <c>data.name</c>.</summary>
    public static readonly IReadOnlyList<string> Names = ["synthetic-pid", "av-mnist", "multiview-csv"];

    /// <summary>Loads or generates the dataset for <paramref name="agentCount"/> agents; relative paths resolve against <paramref name="baseDir"/> (the config's directory).</summary>
    public static DatasetBundle Load(DataConfig cfg, int agentCount, int seed, string baseDir)
    {
        return cfg.Name switch
        {
            "synthetic-pid" => new SyntheticPid(cfg).Generate(agentCount * cfg.SamplesPerAgent, seed),
            "av-mnist" => AvMnist.Load(cfg, baseDir, seed, Console.Error),
            "multiview-csv" => MultiviewCsv.Load(cfg, baseDir, seed),
            _ => throw new ConfigException($"data.name: unknown dataset '{cfg.Name}' (expected one of: {string.Join(", ", Names)})"),
        };
    }
}
