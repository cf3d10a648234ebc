using Parse.Config;

namespace Parse.Data;

/// <summary>Known datasets by <c>data.name</c>.</summary>
public static class DatasetRegistry
{
    /// <summary>Names accepted in <c>data.name</c>.</summary>
    public static readonly IReadOnlyList<string> Names = ["synthetic-pid"];

    /// <summary>Loads or generates the dataset for <paramref name="agentCount"/> agents.</summary>
    public static DatasetBundle Load(DataConfig cfg, int agentCount, int seed, string baseDir)
    {
        _ = baseDir;
        return cfg.Name switch
        {
            "synthetic-pid" => new SyntheticPid(cfg).Generate(agentCount * cfg.SamplesPerAgent, seed),
            _ => throw new ConfigException($"data.name: unknown dataset '{cfg.Name}' (expected one of: {string.Join(", ", Names)})"),
        };
    }
}
