using Parse.Federation.Payload;
using Parse.Model;
using Parse.Simulation;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Node;

/// <summary>
/// A neighbour's answer to a newcomer's join request: the first round in which it waits for (and sends to) the newcomer,
/// and its current parameters of the requested groups (<see cref="GroupPayload.Round"/> = <paramref name="Next"/> - 1).
/// </summary>
/// <param name="From">The answering neighbour.</param>
/// <param name="Next">First round in which the neighbour exchanges payloads with the newcomer.</param>
/// <param name="Groups">Its current parameters of the requested groups it holds.</param>
public sealed record JoinAnswer(int From, int Next, IReadOnlyList<GroupPayload> Groups) : IDisposable
{
    /// <summary>Releases the parameter copies.</summary>
    public void Dispose()
    {
        foreach (var g in Groups) foreach (var v in g.Values) v.Dispose();
    }
}

public sealed partial class AgentCore
{
    // newcomers that asked this agent for its groups (with JoinByRequest, only those are waited for)
    private readonly HashSet<int> _askedToJoin = new();

    /// <summary>
    /// Set by a runtime whose newcomers join by request (the cluster): a churn newcomer is waited for (expected) only
    /// after it has asked this agent for its groups and been answered, from the round the answer names; before that
    /// it may not be up at all (its process is started mid-run). Payloads are still sent to it. Default false (the
    /// simulator: newcomers listen in their join round, on the virtual clock).
    /// </summary>
    public bool JoinByRequest { get; set; }

    // a newcomer that joins no earlier than this agent and has not asked it (one that joined earlier was asked by this agent)
    private bool NotYetJoined(int j) =>
        JoinByRequest && _schedule?.JoinRound(j) is int jr && jr >= (_schedule.JoinRound(Id) ?? 1) && !_askedToJoin.Contains(j);

    /// <summary>
    /// True when the next round is this agent's first after being absent from the start (a churn newcomer,
    /// <c>churn.join</c>). The cluster runtime runs the join protocol instead of that round (<see cref="JoinTargets"/>,
    /// <see cref="AnswerJoin"/>, <see cref="Join"/>): a newcomer process started mid-run asks its overlay neighbours for
    /// their current groups instead of listening for a round it may have missed.
    /// </summary>
    public bool JoinsNext => Round >= 1 && !Present(Round) && Present(Round + 1) && _schedule?.JoinRound(Id) == Round + 1;

    /// <summary>
    /// The first round a newcomer plays (trains, sends, is waited for): the round after its join round with
    /// <c>churn.warm_start</c> (it listens in its join round, as in the simulator), else its join round.
    /// </summary>
    public int JoinFirstRound => _cfg.Churn.WarmStart ? Round + 2 : Round + 1;

    /// <summary>
    /// Whom a newcomer asks, and for which groups: per live overlay neighbour, the keys of the groups active in its join
    /// round that they share (neighbours that join in the same round are not asked: they have nothing yet).
    /// </summary>
    public IReadOnlyDictionary<int, string[]> JoinTargets()
    {
        int r = Round + 1;
        var keys = new SortedDictionary<int, List<string>>();
        foreach (var g in SharedGroups(r))
            // finished neighbours too: a newcomer that comes late may find its neighbours done (they stay until it is)
            foreach (int j in _overlays.Neighbours(g.Key, r).Where(j => j != Id && IsReachable(j) && !IsIgnored(j) && !Joining(j, g.Key, r) && !NotYetJoined(j)).Order())
            {
                if (!keys.TryGetValue(j, out var l)) keys[j] = l = new List<string>();
                l.Add(g.Key);
            }
        return keys.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
    }

    /// <summary>
    /// A neighbour's side of the join protocol: answers newcomer <paramref name="from"/>'s request once this agent has
    /// reached the newcomer's <paramref name="firstRound"/> (null: not yet, ask again after the next publish or close).
    /// When it is waiting in a round it does not wait for the newcomer in that round (the newcomer starts after it).
    /// The caller owns the returned copies (dispose once sent).
    /// </summary>
    public JoinAnswer? AnswerJoin(int from, int firstRound, IReadOnlyList<string> keys)
    {
        int next = Waiting ? Round + 2 : Round + 1;
        if (next < firstRound) return null;
        var groups = new List<GroupPayload>();
        using (torch.no_grad())
            foreach (var key in keys.Distinct(StringComparer.Ordinal))
            {
                if (!_byKey.TryGetValue(key, out var g)) continue;
                if (Waiting) _heard[(key, from)] = Math.Max(Round + 1, _heard.GetValueOrDefault((key, from), -1));
                var values = g.Parameters.Select(p => { var t = p.detach().clone(); t.DetachFromDisposeScope(); return t; }).ToList();
                groups.Add(new GroupPayload(key, Id, next - 1, 0, values));
            }
        _askedToJoin.Add(from);
        Tally.Events.Add($"round {Round}: answered the join request of agent {from} ({groups.Count} group(s), exchanging from round {next})");
        return new JoinAnswer(from, next, groups);
    }

    /// <summary>
    /// A newcomer's side: completes its join round from the neighbours' answers (<paramref name="asked"/> neighbours
    /// were asked). With <c>churn.warm_start</c> it trains its join round and starts every group from the plain average of
    /// the answers (the simulator's rule, WarmStart);
    /// without answers (timeout) it keeps its own parameters: a cold start, logged. It then continues at the earliest
    /// round its neighbours exchange from (rounds it skipped are not trained), and does not wait for the neighbours that
    /// are further ahead until they exchange with it. Takes ownership of the answers. Returns the evaluation, if due.
    /// </summary>
    public EvalResult? Join(IReadOnlyList<JoinAnswer> answers, int asked, double now, bool timedOut)
    {
        int r = Round + 1;
        bool warm = _cfg.Churn.WarmStart;
        try
        {
            StartRound(now);
            if (warm)
            {
                Train();
                var ordered = answers.OrderBy(a => a.From).ToList();
                foreach (var g in SharedGroups(r))
                {
                    var values = new List<IReadOnlyList<Tensor>>();
                    bool asked4 = false;
                    foreach (var a in ordered)
                        foreach (var p in a.Groups.Where(p => p.Key == g.Key))
                        {
                            asked4 = true;
                            if (FitsGroup(g, p, a.From)) values.Add(p.Values);
                        }
                    if (asked4 || Expected(g.Key, r).Count > 0) WarmStart(g, values, r);
                }
            }
            int first = answers.Count == 0 ? (warm ? r + 1 : r) : answers.Min(a => a.Next);
            foreach (var a in answers.Where(a => a.Next > first))
                foreach (var p in a.Groups)
                    _heard[(p.Key, a.From)] = Math.Max(a.Next - 1, _heard.GetValueOrDefault((p.Key, a.From), -1));
            string how = answers.Count == 0
                ? $"cold start: none of {asked} neighbour(s) answered the join request{(timedOut ? " in time" : "")}"
                : $"{answers.Count} of {asked} neighbour(s) answered the join request{(timedOut ? " in time" : "")}{(warm ? ", warm start" : ", cold start (churn.warm_start false)")}";
            Tally.Events.Add($"round {r}: joined: {how}; playing from round {first}");
            Log?.Invoke($"agent {Id}: joined at round {r}: {how}; playing from round {first}");
            Round = Math.Max(Round, first - 1);
            return EvaluateIfDue(now);
        }
        finally
        {
            foreach (var a in answers) a.Dispose();
        }
    }

    /// <summary>Counts the bytes of a join answer sent to a newcomer (role <c>join</c>).</summary>
    public void SentJoin(int to, long bytes) => CountSent(to, "join", bytes);

    // what a join answer must pass: the receive pipeline's shape and finiteness checks (the answers carry raw
    // parameters, so the other processors, e.g. decompression, do not apply)
    private static readonly IPayloadProcessor[] JoinChecks = [new ShapeValidator(), new FiniteValidator()];

    /// <summary>True when a neighbour's group parameters have this group's shapes and are finite (else logged and skipped).</summary>
    private bool FitsGroup(ParameterGroup g, GroupPayload p, int from)
    {
        foreach (var check in JoinChecks)
            if (check.Incoming(p, g.Shapes, g.Key, out var reason) is null)
            {
                CountRejection(from, reason);
                Log?.Invoke($"agent {Id}: join answer of agent {from} for {g.Key} refused ({reason}); not used");
                return false;
            }
        return true;
    }
}
