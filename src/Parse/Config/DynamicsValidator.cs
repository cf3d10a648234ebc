using Parse.Data;

namespace Parse.Config;

/// <summary>Checks the <c>dynamics</c> and <c>churn</c> sections; every message names the field at fault.</summary>
public static class DynamicsValidator
{
    /// <summary>Adds a message to <paramref name="errors"/> for every problem found.</summary>
    public static void Validate(ExperimentConfig c, List<string> errors)
    {
        var d = c.Dynamics;
        var ch = c.Churn;
        if (!d.Enabled && !ch.Enabled && d.TrainMissing.Count == 0 && d.TestMissing.Count == 0) return;
        IReadOnlyList<IReadOnlyList<string>> population;
        try { population = AgentPopulation.Build(c.Agents, c.Data.Modalities, c.Seed); }
        catch (ConfigException) { return; }   // reported by the agents section
        var mods = c.Data.Modalities;
        string known = string.Join(", ", mods);

        void Rate(string field, double v)
        {
            if (!(v is >= 0 and <= 1)) errors.Add($"{field}: must be a probability in [0, 1] (got {v})");
        }
        void Modality(string field, string m)
        {
            if (!mods.Contains(m)) errors.Add($"{field}: unknown modality '{m}' (data.modalities: {known})");
        }
        void Round(string field, int r)
        {
            if (r < 1) errors.Add($"{field}: must be >= 1 (got {r})");
            else if (r > c.Rounds) errors.Add($"{field}: round {r} is beyond the run's last round (rounds: {c.Rounds})");
        }
        List<int> Agents(string field, List<int> ids, string? type, int? count)
        {
            if (type is null)
            {
                if (ids.Count == 0) errors.Add($"{field}: list the agents (agents: [ids]) or choose them by type (type: \"a+b\")");
                foreach (int a in ids.Where(a => a < 0 || a >= population.Count))
                    errors.Add($"{field}.agents: agent {a} does not exist (ids 0..{population.Count - 1})");
                return ids.Where(a => a >= 0 && a < population.Count).ToList();
            }
            if (ids.Count > 0) errors.Add($"{field}: give agents or type, not both");
            string name = AgentTypes.Name(AgentTypes.Parse(type));
            var ofType = Enumerable.Range(0, population.Count).Where(i => AgentTypes.Name(population[i]) == name).ToList();
            if (ofType.Count == 0)
                errors.Add($"{field}.type: no agent has type '{type}' (types: {string.Join(", ", population.Select(AgentTypes.Name).Distinct())})");
            if (count is { } n && (n < 1 || n > ofType.Count))
                errors.Add($"{field}.count: must be in [1, {ofType.Count}] (agents of type '{type}') (got {n})");
            return count is { } k && k >= 1 ? ofType.Skip(Math.Max(0, ofType.Count - k)).ToList() : ofType;
        }

        foreach (var (m, v) in d.TrainMissing) { Modality("dynamics.train_missing", m); Rate($"dynamics.train_missing.{m}", v); }
        foreach (var (m, v) in d.TestMissing) { Modality("dynamics.test_missing", m); Rate($"dynamics.test_missing.{m}", v); }
        foreach (var (m, f) in d.Failure)
        {
            Modality("dynamics.failure", m);
            Rate($"dynamics.failure.{m}.p_fail", f.PFail);
            Rate($"dynamics.failure.{m}.p_recover", f.PRecover);
        }
        for (int i = 0; i < d.Changes.Count; i++)
        {
            var e = d.Changes[i];
            string f = $"dynamics.changes[{i}]";
            if (e.Kind is not ("gain" or "lose")) errors.Add($"{f}.kind: unknown value '{e.Kind}' (expected gain or lose)");
            Modality($"{f}.modality", e.Modality);
            Round($"{f}.round", e.Round);
            foreach (int a in Agents(f, e.Agents, e.Type, e.Count))
                if (mods.Contains(e.Modality) && !population[a].Contains(e.Modality))
                {
                    errors.Add($"{f}.modality: agent {a} (type {AgentTypes.Name(population[a])}) does not hold '{e.Modality}'; an agent that gains a modality is configured with it (agents.types) and has no sensor before the round");
                    break;
                }
        }
        for (int i = 0; i < ch.Join.Count; i++) { Round($"churn.join[{i}].round", ch.Join[i].Round); Agents($"churn.join[{i}]", ch.Join[i].Agents, ch.Join[i].Type, ch.Join[i].Count); }
        for (int i = 0; i < ch.Leave.Count; i++) { Round($"churn.leave[{i}].round", ch.Leave[i].Round); Agents($"churn.leave[{i}]", ch.Leave[i].Agents, ch.Leave[i].Type, ch.Leave[i].Count); }
        Rate("churn.leave_rate", ch.LeaveRate);
        if (c.Strategy == "centralized" && (ch.Enabled || d.Failure.Count > 0 || d.Changes.Count > 0))
            errors.Add("churn, dynamics.failure, dynamics.changes: strategy centralized pools the data in one learner per type; there are no agents that fail, join or leave");
    }
}
