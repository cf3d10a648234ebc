namespace Parse.Cluster.Discovery;

/// <summary>
/// What overlay discovery may believe, from the experiment config every node holds (see
/// <see cref="Parse.Node.ExpectedOverlays"/>): the keys each agent's type holds, and which links each key's overlay has.
/// </summary>
/// <remarks>
/// With a policy, an agent's overlay neighbours are its base neighbours whose announced keys (cut to what their type
/// holds) include the key, plus the repair links of the config's overlay: a lie can neither add a link nor, by a false
/// component id, remove one. The repair flood still runs, and what it reports is checked and its lies counted.
/// </remarks>
/// <param name="ExpectedKeys">Keys agent j holds by its type (null: unknown agent, nothing is believed).</param>
/// <param name="Neighbours">An agent's neighbours on the config's overlay of a key (empty when it does not hold it).</param>
public sealed record DiscoveryPolicy(Func<int, IReadOnlySet<string>?> ExpectedKeys, Func<string, int, IReadOnlyCollection<int>> Neighbours)
{
    /// <summary>True if the config's overlay of <paramref name="key"/> links <paramref name="a"/> and <paramref name="b"/>.</summary>
    public bool Links(string key, int a, int b) => Neighbours(key, a).Contains(b);

    /// <summary>The policy of an experiment's expected overlays.</summary>
    public static DiscoveryPolicy Of(Parse.Node.ExpectedOverlays expected) => new(expected.KeysOf, expected.NeighboursOf);
}

/// <summary>
/// One agent's side of overlay discovery, driven by messages only. The agent knows its own sharing keys and its
/// base-graph neighbours; it learns each neighbour's keys by handshake (<see cref="OnNeighbourKeys"/>) and runs
/// the connectivity-repair flood of <see cref="Parse.Federation.Overlays.OverlayBuilder"/> asynchronously: as a
/// non-holder of a key it keeps (smallest component id, holders adjacent to the component) and sends it to every
/// neighbour whenever it changes; as a holder it links to its predecessor and successor in the holder list of
/// each adjacent non-holder component. Once no message changes anything, the result equals OverlayBuilder's.
/// Not thread-safe: owned by one actor.
/// </summary>
public sealed class OverlayDiscovery
{
    private readonly int _self;
    private readonly HashSet<string> _own;
    private readonly IReadOnlyList<int> _neighbours;
    private readonly bool _repair;
    private readonly DiscoveryPolicy? _policy;
    private readonly HashSet<string> _lies = new(StringComparer.Ordinal);
    private readonly List<string> _lieLog = new();
    private readonly Dictionary<int, HashSet<string>> _keysOf = new();
    private readonly HashSet<int> _settledNeighbours = new();
    // non-holder state per key
    private readonly Dictionary<string, (int Comp, SortedSet<int> Heard)> _state = new(StringComparer.Ordinal);
    // holder side: what each non-holder neighbour reported, per key
    private readonly Dictionary<string, Dictionary<int, (int Comp, int[] Holders)>> _reports = new(StringComparer.Ordinal);

    /// <summary>Creates the state of agent <paramref name="self"/>.</summary>
    /// <param name="self">This agent's id.</param>
    /// <param name="ownKeys">Keys this agent shares.</param>
    /// <param name="baseNeighbours">Its base-graph neighbours.</param>
    /// <param name="repair">Run the connectivity repair (<c>overlay.repair</c>).</param>
    /// <param name="policy">What may be believed (null: every announcement and report is taken as sent).</param>
    public OverlayDiscovery(int self, IEnumerable<string> ownKeys, IEnumerable<int> baseNeighbours, bool repair, DiscoveryPolicy? policy = null)
    {
        _policy = policy;
        _self = self;
        _own = new HashSet<string>(ownKeys, StringComparer.Ordinal);
        _neighbours = baseNeighbours.Distinct().Order().ToList();
        _repair = repair;
    }

    /// <summary>Base-graph neighbours.</summary>
    public IReadOnlyList<int> Neighbours => _neighbours;

    /// <summary>True once every base neighbour's keys are known.</summary>
    public bool AllNeighboursKnown => _neighbours.All(_keysOf.ContainsKey);

    /// <summary>
    /// True once every neighbour's keys are known and every neighbour that lacks one of our keys (and so floods for it)
    /// has reported that it knows all of its own neighbours. Combined with a quiet period this lets an agent start
    /// training only after the repair flood around it has settled.
    /// </summary>
    public bool Settled => AllNeighboursKnown && (!_repair ||
        _neighbours.All(n => _settledNeighbours.Contains(n) || (_keysOf.TryGetValue(n, out var ks) && _own.IsSubsetOf(ks))));

    /// <summary>Number of state changes so far (to detect quiescence).</summary>
    public int Changes { get; private set; }

    /// <summary>Distinct lies refused so far: keys announced that the sender's type does not hold, holders claimed that do
    /// not hold the key, and repair links the config does not imply.</summary>
    public int LiesRefused => _lies.Count;

    /// <summary>The first lies refused, in words (at most 20).</summary>
    public IReadOnlyList<string> LieLog => _lieLog;

    private void Lie(string id, string text)
    {
        if (_lies.Add(id) && _lieLog.Count < 20) _lieLog.Add(text);
    }

    /// <summary>Keys a neighbour announced, if known.</summary>
    public IReadOnlySet<string>? KeysOf(int neighbour) => _keysOf.GetValueOrDefault(neighbour);

    /// <summary>Records a neighbour's keys; returns the flood messages to send.</summary>
    public IReadOnlyList<(int To, string Key, int Comp, int[] Holders, bool Settled)> OnNeighbourKeys(int neighbour, IEnumerable<string> keys)
    {
        var outbox = new List<(int, string, int, int[], bool)>();
        if (!_neighbours.Contains(neighbour)) return outbox;
        bool first = !_keysOf.ContainsKey(neighbour);
        bool wasAll = AllNeighboursKnown;
        var set = new HashSet<string>(keys, StringComparer.Ordinal);
        if (_policy is not null)
        {
            var expected = _policy.ExpectedKeys(neighbour) ?? new HashSet<string>();
            foreach (var k in set.Where(k => !expected.Contains(k)).ToList())
            {
                Lie($"keys:{neighbour}:{k}", $"agent {neighbour} announced key '{k.Split('|')[0]}', which its type does not hold");
                set.Remove(k);
            }
        }
        if (!first && set.SetEquals(_keysOf[neighbour])) return outbox;
        _keysOf[neighbour] = set;
        Changes++;
        if (!_repair) return outbox;
        foreach (string k in set.Where(k => !_own.Contains(k)))
        {
            bool created = !_state.ContainsKey(k);
            if (Touch(k).Heard.Add(neighbour) || created) Broadcast(k, outbox);
        }
        // once we know every neighbour, everyone hears it (Settled); otherwise a newly known neighbour gets our states
        if (!wasAll && AllNeighboursKnown) foreach (var k in _state.Keys.ToList()) Broadcast(k, outbox);
        foreach (var (k, s) in _state)
            if (!outbox.Any(m => m.Item1 == neighbour && m.Item2 == k)) outbox.Add((neighbour, k, s.Comp, s.Heard.ToArray(), AllNeighboursKnown));
        return outbox;
    }

    /// <summary>Forgets a neighbour's keys (its process is gone); it leaves the overlays until it says hello again.</summary>
    public void Forget(int neighbour)
    {
        if (_keysOf.Remove(neighbour)) Changes++;
        _settledNeighbours.Remove(neighbour);
    }

    /// <summary>Handles a flood message from a neighbour; returns the flood messages to send.</summary>
    public IReadOnlyList<(int To, string Key, int Comp, int[] Holders, bool Settled)> OnFlood(int from, string key, int comp, int[] holders, bool settled = true)
    {
        var outbox = new List<(int, string, int, int[], bool)>();
        if (!_repair || !_neighbours.Contains(from)) return outbox;
        if (settled && _settledNeighbours.Add(from)) Changes++;
        if (_policy is not null)
        {
            var claimed = holders.Where(h => _policy.ExpectedKeys(h)?.Contains(key) != true).ToList();
            if (claimed.Count > 0 || comp < 0)
            {
                foreach (int h in claimed)
                    Lie($"holder:{from}:{key}:{h}", $"agent {from} reported agent {h} as a holder of '{key.Split('|')[0]}', which its type does not hold");
                if (comp < 0) Lie($"comp:{from}:{key}", $"agent {from} reported component {comp} for '{key.Split('|')[0]}'");
                holders = holders.Where(h => !claimed.Contains(h)).ToArray();
                if (comp < 0) return outbox;
            }
        }
        if (_own.Contains(key))
        {
            if (!_reports.TryGetValue(key, out var r)) _reports[key] = r = new Dictionary<int, (int, int[])>();
            // states only grow (smaller component id, more holders), so merging makes reordered or late messages harmless
            if (r.TryGetValue(from, out var old))
            {
                int c = Math.Min(old.Comp, comp);
                var merged = old.Holders.Union(holders).Order().ToArray();
                if (c == old.Comp && merged.Length == old.Holders.Length) return outbox;
                r[from] = (c, merged);
            }
            else r[from] = (comp, holders.Distinct().Order().ToArray());
            Changes++;
            return outbox;
        }
        var s = Touch(key);
        bool changed = false;
        if (comp < s.Comp) { s = (comp, s.Heard); _state[key] = s; changed = true; }
        foreach (int h in holders) changed |= s.Heard.Add(h);
        if (changed) Broadcast(key, outbox);
        return outbox;
    }

    private (int Comp, SortedSet<int> Heard) Touch(string key)
    {
        if (_state.TryGetValue(key, out var s)) return s;
        var heard = new SortedSet<int>(_neighbours.Where(n => _keysOf.TryGetValue(n, out var ks) && ks.Contains(key)));
        _state[key] = s = (_self, heard);
        Changes++;
        return s;
    }

    private void Broadcast(string key, List<(int, string, int, int[], bool)> outbox)
    {
        Changes++;
        var s = _state[key];
        foreach (int n in _neighbours.Where(_keysOf.ContainsKey)) outbox.Add((n, key, s.Comp, s.Heard.ToArray(), AllNeighboursKnown));
    }

    /// <summary>This agent's neighbours on the overlay of an own key: base neighbours holding it plus repair bridges.</summary>
    public SortedSet<int> OverlayNeighbours(string key)
    {
        var result = new SortedSet<int>();
        if (!_own.Contains(key)) return result;
        foreach (int n in _neighbours)
            if (_keysOf.TryGetValue(n, out var ks) && ks.Contains(key)) result.Add(n);
        if (_policy is not null && _repair)
            foreach (int n in _policy.Neighbours(key, _self))
                if (!_neighbours.Contains(n)) result.Add(n);   // the config's repair links
        if (!_repair || !_reports.TryGetValue(key, out var reports)) return result;
        var seen = new HashSet<int>();
        foreach (var (from, (comp, holders)) in reports.OrderBy(kv => kv.Key))
        {
            if (_keysOf.TryGetValue(from, out var fk) && fk.Contains(key)) continue;   // only non-holder reports count
            if (!seen.Add(comp)) continue;
            var chain = holders.Order().ToList();
            int pos = chain.IndexOf(_self);
            if (pos < 0) continue;
            if (pos > 0) AddBridge(key, chain[pos - 1], from, result);
            if (pos + 1 < chain.Count) AddBridge(key, chain[pos + 1], from, result);
        }
        return result;
    }

    private void AddBridge(string key, int peer, int reporter, SortedSet<int> result)
    {
        if (_policy is null) { result.Add(peer); return; }
        if (!_policy.Links(key, _self, peer)) Lie($"link:{key}:{peer}", $"agent {reporter}'s repair report would link agent {_self} to agent {peer} on '{key.Split('|')[0]}', which the config's overlay does not");
    }

    /// <summary>Overlay neighbours that are not base-graph neighbours (links added by the repair).</summary>
    public IEnumerable<int> Bridges(string key) => OverlayNeighbours(key).Where(n => !_neighbours.Contains(n));
}
