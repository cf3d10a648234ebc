using System.Collections.Concurrent;
using Parse.Config;
using Parse.Data;
using Parse.Util;

namespace Parse.Node;

/// <summary>
/// Who is present and which sensors work, per agent and round (<c>dynamics.*</c> and <c>churn.*</c>): a pure function of
/// the config and its seed, so every agent of either runtime computes the same answer for any agent without messages.
/// Per agent it draws the sensors' failure chains (one two-state Markov chain per modality, seeded by agent and
/// modality), applies modality gains and losses, and the churn schedule. Thread-safe; agents are computed on first use.
/// </summary>
public sealed class DynamicsSchedule
{
    private readonly ExperimentConfig _cfg;
    private readonly IReadOnlyList<IReadOnlyList<string>> _population;
    private readonly Dictionary<int, int> _join = new(), _leave = new();
    private readonly List<(ModalityChangeConfig Change, HashSet<int> Agents)> _changes = new();
    private readonly ConcurrentDictionary<int, Plan> _plans = new();

    /// <summary>One agent's rounds: present (index = round, 1-based) and, per modality, sensor available.</summary>
    private sealed record Plan(bool[] Present, Dictionary<string, bool[]> Available);

    /// <summary>The schedule of <paramref name="cfg"/> over <paramref name="population"/> (modality set per agent id).</summary>
    public DynamicsSchedule(ExperimentConfig cfg, IReadOnlyList<IReadOnlyList<string>> population)
    {
        _cfg = cfg;
        _population = population;
        foreach (var e in cfg.Churn.Join)
            foreach (int a in Select(e.Agents, e.Type, e.Count)) _join[a] = Math.Max(_join.GetValueOrDefault(a, 1), e.Round);
        foreach (var e in cfg.Churn.Leave)
            foreach (int a in Select(e.Agents, e.Type, e.Count)) _leave[a] = Math.Min(_leave.GetValueOrDefault(a, int.MaxValue), e.Round);
        foreach (var c in cfg.Dynamics.Changes) _changes.Add((c, Select(c.Agents, c.Type, c.Count).ToHashSet()));
    }

    /// <summary>The schedule of <paramref name="cfg"/>, or null when it has no dynamics and no churn.</summary>
    public static DynamicsSchedule? Of(ExperimentConfig cfg) =>
        cfg.Dynamics.Enabled || cfg.Churn.Enabled ? new DynamicsSchedule(cfg, LearnerPlan.Of(cfg).Population) : null;

    /// <summary>Agents chosen by an event: its ids, or the agents of a type (the highest <paramref name="count"/> ids, or all).</summary>
    public IReadOnlyList<int> Select(IReadOnlyList<int> ids, string? type, int? count)
    {
        if (type is null) return ids;
        string name = AgentTypes.Name(AgentTypes.Parse(type));
        var ofType = Enumerable.Range(0, _population.Count).Where(i => AgentTypes.Name(_population[i]) == name).ToList();
        return count is { } n ? ofType.Skip(Math.Max(0, ofType.Count - n)).ToList() : ofType;
    }

    /// <summary>Number of agents.</summary>
    public int Agents => _population.Count;

    /// <summary>True when <paramref name="agent"/> takes part in round <paramref name="round"/> (it has joined and not left).</summary>
    public bool Present(int agent, int round) => round < 1 || Of(agent).Present[Math.Min(round, _cfg.Rounds)];

    /// <summary>First round of an agent that joins after the start (churn), else null.</summary>
    public int? JoinRound(int agent) => _join.TryGetValue(agent, out int r) && r > 1 ? r : null;

    /// <summary>Agents that join after the start, with their join round, by id.</summary>
    public IReadOnlyList<(int Agent, int Round)> Newcomers =>
        _join.Where(kv => kv.Value > 1).OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)).ToList();

    /// <summary>True when the agent ever misses a round (churn): it trains alone, not in a stacked learner.</summary>
    public bool Churns(int agent) => Of(agent).Present.Skip(1).Any(p => !p);

    /// <summary>True when <paramref name="agent"/> is present and its sensor of <paramref name="modality"/> works in <paramref name="round"/>.</summary>
    public bool Available(int agent, string modality, int round)
    {
        var plan = Of(agent);
        int r = Math.Clamp(round, 1, _cfg.Rounds);
        return plan.Present[r] && (!plan.Available.TryGetValue(modality, out var a) || a[r]);
    }

    /// <summary>The agent's modalities without a working sensor in <paramref name="round"/> (all of them when it is absent).</summary>
    public IReadOnlySet<string> Unavailable(int agent, int round) =>
        _population[agent].Where(m => !Available(agent, m, round)).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Modalities a sharing key depends on for an agent: an encoder group (<c>enc/m/...</c>) and a unique head
    /// (<c>head/unique/m</c>) on m; synergy groups (a synergistic projection, the fusion, the synergy head) on every
    /// modality of the agent (the synergy path needs them all); other heads on none.
    /// </summary>
    public IEnumerable<string> DependsOn(int agent, string key)
    {
        key = key.Split('|')[0];   // without the shape signature
        var parts = key.Split('/');
        if (key.Contains("/proj-s/", StringComparison.Ordinal) || parts[0] == "fusion" || key.StartsWith("head/synergy/", StringComparison.Ordinal))
            return _population[agent];
        if (parts[0] == "enc" && parts.Length > 1) return [parts[1]];
        if (key.StartsWith("head/unique/", StringComparison.Ordinal) && parts.Length > 2) return [parts[2]];
        return [];
    }

    /// <summary>True when the agent shares (takes part in the overlay of) <paramref name="key"/> in <paramref name="round"/>.</summary>
    public bool KeyActive(int agent, string key, int round) =>
        Present(agent, round) && DependsOn(agent, key).All(m => Available(agent, m, round));

    /// <summary>
    /// True when the agent's group of <paramref name="key"/> rejoins its overlay in <paramref name="round"/> with a warm
    /// start: active now, not in the round before, and warm start is on (<c>churn.warm_start</c> for a newcomer,
    /// <c>dynamics.warm_start</c> for a gained or recovered sensor). In that round it only listens: it sends nothing,
    /// nobody waits for it, and it adopts the average of what its neighbours send.
    /// </summary>
    public bool Joining(int agent, string key, int round)
    {
        if (round <= 1 || !KeyActive(agent, key, round) || KeyActive(agent, key, round - 1)) return false;
        return Present(agent, round - 1) ? _cfg.Dynamics.WarmStart : _cfg.Churn.WarmStart;
    }

    private Plan Of(int agent) => _plans.GetOrAdd(agent, Build);

    private Plan Build(int agent)
    {
        int rounds = _cfg.Rounds;
        var present = new bool[rounds + 1];
        int join = _join.GetValueOrDefault(agent, 1), leave = _leave.GetValueOrDefault(agent, int.MaxValue);
        var churn = _cfg.Churn.LeaveRate > 0 ? new Random(Seeds.Derive(_cfg.Seed, "churn-leave", agent)) : null;
        for (int r = 1; r <= rounds; r++)
        {
            if (churn is not null && r >= 2 && r > join && r < leave && churn.NextDouble() < _cfg.Churn.LeaveRate) leave = r;
            present[r] = r >= join && r < leave;
        }
        var available = new Dictionary<string, bool[]>(StringComparer.Ordinal);
        foreach (var m in _population[agent])
        {
            var up = new bool[rounds + 1];
            Array.Fill(up, true);
            if (_cfg.Dynamics.Failure.TryGetValue(m, out var chain))
            {
                var rng = new Random(Seeds.Derive(_cfg.Seed, "sensor", agent, m));
                for (int r = 2; r <= rounds; r++)
                {
                    double u = rng.NextDouble();
                    up[r] = up[r - 1] ? u >= chain.PFail : u < chain.PRecover;
                }
            }
            foreach (var (c, who) in _changes)
                if (c.Modality == m && who.Contains(agent))
                    for (int r = 1; r <= rounds; r++)
                        if (c.Kind == "gain" ? r < c.Round : r >= c.Round) up[r] = false;
            available[m] = up;
        }
        return new Plan(present, available);
    }
}
