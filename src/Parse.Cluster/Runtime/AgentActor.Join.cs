using Parse.Cluster.Protocol;
using Parse.Cluster.Wire;
using Parse.Federation.Payload;
using Parse.Node;
using TorchSharp;

namespace Parse.Cluster.Runtime;

/// <summary>
/// The join protocol of churn (docs/dynamics.md, "Churn on the cluster"). A newcomer (an agent absent from the start
/// that joins at round R, possibly in a process started mid-run) does not listen passively for round R, which it may
/// have missed: it asks its overlay neighbours for their current groups (<see cref="JoinRequest"/>). A neighbour
/// answers once it has reached the newcomer's first round (<see cref="JoinChunk"/>: its parameters and the round from
/// which it exchanges with the newcomer); the newcomer starts from their average (<see cref="AgentCore.Join"/>) and
/// continues at the earliest of those rounds. It never waits for more than its first round's deadline: without
/// answers it starts cold (logged).
/// </summary>
public sealed partial class AgentActor
{
    private void StartJoin()
    {
        var targets = _core.JoinTargets();
        _joinAsked = targets.ToDictionary(kv => kv.Key, kv => kv.Value);
        int first = _core.JoinFirstRound;
        _s.Log($"agent {_id}: joining at round {_core.Round + 1}; asking neighbours {(targets.Count == 0 ? "(none)" : string.Join(',', targets.Keys))} for their groups");
        foreach (var (j, keys) in targets) Tell(j, new JoinRequest(_id, j, first, keys));
        if (targets.Count == 0) { CompleteJoin(timedOut: false); return; }
        Timers.StartSingleTimer("join", new JoinTimeout(), TimeSpan.FromMilliseconds(_core.DeadlineMs));
    }

    private void OnJoinRequest(JoinRequest m)
    {
        if (_joinRequests.Count >= 1_000 && !_joinRequests.ContainsKey(m.From)) return;   // bounded
        _joinRequests[m.From] = (m.FirstRound, m.Keys.Take(1_000).ToArray());
        AnswerJoins();
        CloseIfReady();
    }

    /// <summary>Answers the join requests this agent can answer now (it has reached the newcomer's first round).</summary>
    private void AnswerJoins()
    {
        foreach (var (from, (first, keys)) in _joinRequests.ToList())
        {
            if (!_where.ContainsKey(from)) continue;
            var answer = _core.AnswerJoin(from, first, keys);
            if (answer is null) continue;
            _joinRequests.Remove(from);
            using (answer) SendJoinAnswer(from, answer);
        }
    }

    private void SendJoinAnswer(int to, JoinAnswer a)
    {
        if (a.Groups.Count == 0) { Tell(to, new JoinChunk(_id, to, _nextMessageId++, 0, 1, a.Next, 0, [])); return; }
        foreach (var p in a.Groups)
        {
            byte[] bytes;
            using (var scope = torch.NewDisposeScope()) bytes = PayloadCodec.Encode(p);
            var chunks = PayloadChunker.Split(bytes, _k.ChunkBytes);
            long id = _nextMessageId++;
            for (int c = 0; c < chunks.Count; c++) Tell(to, new JoinChunk(_id, to, id, c, chunks.Count, a.Next, a.Groups.Count, chunks[c]));
            _core.SentJoin(to, bytes.Length);
        }
    }

    private void OnJoinChunk(JoinChunk m)
    {
        if (_joinAsked is null || _joinCompleted || !_joinAsked.ContainsKey(m.From)) return;   // not asked (or too late)
        if (!_joinParts.TryGetValue(m.From, out var part)) _joinParts[m.From] = part = (m.Next, Math.Clamp(m.Total, 0, 10_000), new List<GroupPayload>());
        if (part.Total > 0)
        {
            byte[]? whole;
            try { whole = _joinChunks.Add(m.From, m.MessageId, m.Index, m.Count, m.Data); }
            catch (InvalidDataException e) { _s.Log($"agent {_id}: malformed join answer from agent {m.From}: {e.Message}"); part.Groups.Add(Empty(m.From)); whole = null; }
            if (whole is not null)
            {
                var p = Decode(whole, out var reason, out var detail);
                if (p is null) _s.Log($"agent {_id}: join answer from agent {m.From} refused: {reason} ({detail})");
                if (p is not null && p.Sender != m.From) { foreach (var v in p.Values) v.Dispose(); p = null; }
                part.Groups.Add(p ?? Empty(m.From));
            }
        }
        if (part.Groups.Count < part.Total) return;
        if (_joinParts.Values.Count(x => x.Groups.Count >= x.Total) == _joinAsked.Count) CompleteJoin(timedOut: false);
    }

    /// <summary>A placeholder for an answer part that could not be read (it counts as answered, and is not used).</summary>
    private static GroupPayload Empty(int from) => new("", from, 0, 0, []);

    private void CompleteJoin(bool timedOut)
    {
        if (_joinCompleted) return;
        _joinCompleted = true;
        Timers.Cancel("join");
        var answers = new List<JoinAnswer>();
        foreach (var (from, (next, total, groups)) in _joinParts)
        {
            var usable = groups.Where(g => g.Key.Length > 0).ToList();
            if (groups.Count >= total) answers.Add(new JoinAnswer(from, next, usable));
            else foreach (var g in usable) foreach (var v in g.Values) v.Dispose();   // incomplete at the timeout: not used
        }
        _joinParts.Clear();
        Guard(() =>
        {
            _core.Join(answers, _joinAsked!.Count, Now, timedOut);
            AfterClose();
        });
    }
}
