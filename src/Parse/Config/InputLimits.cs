using System.Globalization;

namespace Parse.Config;

/// <summary>
/// Checks on a config that protect the machine and the output tree before any work starts: the run name is a
/// plain name (it becomes a folder under <c>runs/</c>, never a path), and the number of agents is within
/// <c>sim.max_agents</c>, with a memory estimate in the message.
/// </summary>
public static class InputLimits
{
    /// <summary>Default <c>sim.max_agents</c>: the largest population measured (9,999 quickstart agents, 11.1 GiB peak; docs/performance.md).</summary>
    public const int DefaultMaxAgents = 10_000;

    /// <summary>Resident memory per quickstart-sized agent, from the 10,000-agent measurement (11.1 GiB / 9,999 agents).</summary>
    public const double MibPerAgent = 1.14;

    /// <summary>Adds a message to <paramref name="errors"/> for every limit <paramref name="c"/> breaks.</summary>
    public static void Check(ExperimentConfig c, List<string> errors)
    {
        if (NameProblem(c.Name) is { } why)
            errors.Add($"name: '{c.Name}' {why}; it names the run directory under runs/ (use --out to choose another place)");
        if (c.Sim.MaxAgents < 1) errors.Add($"sim.max_agents: must be an integer in 1..{int.MaxValue} (got {c.Sim.MaxAgents})");
        long agents = TotalAgents(c.Agents);
        if (agents > c.Sim.MaxAgents && c.Sim.MaxAgents >= 1)
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"agents.count: {agents:N0} agents is more than sim.max_agents={c.Sim.MaxAgents:N0}; at the quickstart model's size that needs about " +
                $"{agents * MibPerAgent / 1024:N1} GiB and minutes of setup before round 1 (docs/performance.md); set sim.max_agents={agents} to run it anyway"));
    }

    /// <summary>Why <paramref name="name"/> is not a plain run name, or null if it is one.</summary>
    public static string? NameProblem(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) return "is empty";
        if (name.Contains('/') || name.Contains('\\') || Path.IsPathRooted(name)) return "is a path, not a name";
        if (name is "." or "..") return "is not a name";
        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Any(char.IsControl)) return "contains characters not allowed in a folder name";
        if (name.Length > 100) return $"is {name.Length} characters long (at most 100)";
        return null;
    }

    /// <summary>Agents the population will have: <c>agents.count</c>, or the sum of <c>agents.mix</c> when the count is null.</summary>
    public static long TotalAgents(AgentsConfig a)
    {
        if (a.Count is { } n) return n;
        long sum = 0;
        foreach (var f in a.Mix.Split(':', StringSplitOptions.TrimEntries))
            if (long.TryParse(f, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) && v > 0) sum += v;
        return sum;
    }
}
