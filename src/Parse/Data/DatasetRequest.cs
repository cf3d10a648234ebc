using Parse.Config;

namespace Parse.Data;

/// <summary>What a dataset factory (<see cref="Components.Datasets"/>) is asked to provide.</summary>
/// <param name="Config">The <c>data</c> section of the experiment (name, modalities, sizes, paths, ...).</param>
/// <param name="AgentCount">Number of agents the training pool will be partitioned among.</param>
/// <param name="Seed">Experiment seed; a dataset that samples or shuffles must derive every random choice from it.</param>
/// <param name="BaseDir">Directory of the config file; relative paths in <paramref name="Config"/> resolve against it.</param>
public sealed record DatasetRequest(DataConfig Config, int AgentCount, int Seed, string BaseDir)
{
    /// <summary>Where to report progress such as downloads or cache builds (default: standard error).</summary>
    public TextWriter Log { get; init; } = Console.Error;

    /// <summary>The agents this process hosts (a cluster node), or null for all (the simulator). A dataset that assigns
    /// rows to agents itself (<see cref="DatasetBundle.Partition"/>) may load only these agents' training rows.</summary>
    public IReadOnlySet<int>? HostedAgents { get; init; }
    /// <summary>Stops a long load (download, feature extraction) when cancelled (Ctrl-C, SIGTERM); loaders check it between steps.</summary>
    public CancellationToken Cancellation { get; init; }
}
