using Parse.Config;

namespace Parse.Federation.Topology;

/// <summary>What a topology factory (<see cref="Components.Topologies"/>) is asked to build.</summary>
/// <param name="Config">The <c>topology</c> section of the experiment.</param>
/// <param name="AgentCount">Number of agents (graph nodes 0..AgentCount-1).</param>
/// <param name="Seed">Experiment seed; random graphs must derive from it.</param>
/// <param name="BaseDir">Directory of the config file; relative paths resolve against it.</param>
public sealed record TopologyRequest(TopologyConfig Config, int AgentCount, int Seed, string BaseDir);
