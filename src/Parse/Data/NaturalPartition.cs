namespace Parse.Data;

/// <summary>
/// Natural partition by group (e.g. speaker, subject, site): every agent holds data of as few groups as possible.
/// <list type="bullet">
/// <item>At least as many groups as agents: whole groups are dealt to agents, largest group first, each to the agent
/// holding the fewest samples so far (ties: lowest id), so no group is split.</item>
/// <item>Fewer groups than agents: agents are assigned to groups in proportion to group size (largest remainder,
/// at least one agent per group), the agent-to-group map is a seed-derived permutation (so a group is not tied to
/// one agent type on an interleaved graph), and each group's samples are shuffled and split evenly among its agents.
/// Every agent then holds data of exactly one group; a group is shared by several agents.</item>
/// </list>
/// Groups are ordered ordinally by name, so the result depends only on the data and the seed.
/// </summary>
public static class NaturalPartition
{
    /// <summary>Pool indices per agent.</summary>
    public static int[][] Split(string[] groups, int agents, Random rng)
    {
        var byGroup = groups.Select((g, i) => (g, i)).GroupBy(t => t.g, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Select(t => t.i).ToList()).ToList();
        var lists = Enumerable.Range(0, agents).Select(_ => new List<int>()).ToArray();
        int G = byGroup.Count;
        if (G >= agents)
        {
            foreach (var members in byGroup.OrderByDescending(m => m.Count))
            {
                int a = Enumerable.Range(0, agents).OrderBy(k => lists[k].Count).ThenBy(k => k).First();
                lists[a].AddRange(members);
            }
            return lists.Select(l => l.Order().ToArray()).ToArray();
        }
        // fewer groups than agents: apportion agents to groups by size, at least one each
        int n = groups.Length;
        var exact = byGroup.Select(m => (double)m.Count / n * (agents - G)).ToArray();
        var count = exact.Select(x => 1 + (int)Math.Floor(x)).ToArray();
        int left = agents - count.Sum();
        foreach (int g in Enumerable.Range(0, G).OrderByDescending(g => exact[g] - Math.Floor(exact[g])).ThenBy(g => g).Take(left)) count[g]++;
        var agentOrder = Enumerable.Range(0, agents).ToArray();
        Util.RandomExtensions.Shuffle(rng, agentOrder);
        int next = 0;
        for (int g = 0; g < G; g++)
        {
            var members = byGroup[g].ToArray();
            Util.RandomExtensions.Shuffle(rng, members);
            for (int k = 0; k < count[g]; k++)
            {
                int a = agentOrder[next++];
                lists[a].AddRange(members.Where((_, i) => i % count[g] == k));
            }
        }
        return lists.Select(l => l.Order().ToArray()).ToArray();
    }
}
