using System.Text.Json;
using Parse.Config;
using Parse.Federation.Mixing;
using Parse.Node;
using Parse.Simulation;

namespace Parse.Cluster.Checkpoints;

/// <summary>
/// What a cluster agent saves at a round boundary so that a resumed run continues exactly as an uninterrupted one:
/// its model slice, its optimizer state (Adam moments and step count), the position of its batch sequence, the rounds
/// completed and its tally, the memory of its mixing rule (<see cref="IMixerMemory"/>, e.g. the own-history radius), and
/// the fingerprint of the config it trained under.
/// </summary>
public static class AgentCheckpoint
{
    /// <summary>Blob holding the learner's optimizer state.</summary>
    public const string OptimizerBlob = "optimizer";
    /// <summary>Blob holding the batch sampler position (shuffles i64, cursor i32).</summary>
    public const string SamplerBlob = "sampler";
    /// <summary>Blob holding the mixing rule's memory of the agent's groups (present only when the rule remembers something).</summary>
    public const string MixerBlob = "mixer";

    /// <summary>Saves <paramref name="core"/> after its completed round; returns the file path.</summary>
    public static string Save(CheckpointStore store, AgentCore core, string fingerprint)
    {
        var sampler = core.Learner.Sampler;
        var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms))
        {
            w.Write(sampler.Shuffles);
            w.Write(sampler.Cursor);
        }
        var blobs = new Dictionary<string, byte[]>
        {
            [OptimizerBlob] = core.Learner.Group.OptimizerState(),
            [SamplerBlob] = ms.ToArray(),
        };
        if (core.Mixer is IMixerMemory memory && memory.SaveMemory(core.Learner.Model.Groups) is { } mixer) blobs[MixerBlob] = mixer;
        return store.Save(core.Id, core.Round, core.Learner.Model.State(), JsonSerializer.Serialize(core.Tally), fingerprint, blobs);
    }

    /// <summary>
    /// Restores <paramref name="c"/> into <paramref name="core"/>. A checkpoint of another config (fingerprint), of an
    /// older format without optimizer state, or whose tensors or state do not fit the model is refused with a
    /// <see cref="ConfigException"/> naming the file's agent and round and what differs (exit code 2), never half-loaded
    /// into a running agent.
    /// </summary>
    public static void Restore(Checkpoint c, AgentCore core, string fingerprint, string where)
    {
        string what = $"{where}: checkpoint of agent {c.Agent} after round {c.Round}";
        if (c.Fingerprint.Length == 0)
            throw new ConfigException($"{what} has no config fingerprint (written by an older version): it cannot be checked against this experiment; " +
                "start without --resume or delete the checkpoints");
        if (c.Fingerprint != fingerprint)
            throw new ConfigException($"{what} was written under a different experiment config (fingerprint {c.Fingerprint}, this config {fingerprint}); " +
                $"resume with the same config file and --set overrides (only {string.Join(" and ", ConfigFingerprint.Excluded)} may change), " +
                "or start without --resume");
        if (!c.Blobs.TryGetValue(OptimizerBlob, out var optimizer) || !c.Blobs.TryGetValue(SamplerBlob, out var sampler) || sampler.Length != 12)
            throw new ConfigException($"{what} lacks optimizer or sampler state; start without --resume or delete the checkpoints");
        AgentTally tally;
        try { tally = JsonSerializer.Deserialize<AgentTally>(c.Metadata) ?? new AgentTally(); }
        catch (JsonException e) { throw new ConfigException($"{what}: unreadable tally ({e.Message})"); }
        try
        {
            CheckpointStore.Restore(c, core.Learner.Model.State());
            core.Learner.Group.LoadOptimizerState(optimizer);
            core.Learner.RestoreSampler(new SamplerState(BitConverter.ToInt64(sampler, 0), BitConverter.ToInt32(sampler, 8)));
            if (c.Blobs.TryGetValue(MixerBlob, out var mixer))
            {
                if (core.Mixer is not IMixerMemory memory)
                    throw new InvalidDataException($"it holds the memory of a mixing rule, but mixing.rule {core.Mixer.Name} keeps none");
                memory.RestoreMemory(mixer, core.Learner.Model.Groups);
            }
        }
        catch (InvalidDataException e) { throw new ConfigException($"{what} does not fit this experiment's model: {e.Message}"); }
        core.ResumeAt(c.Round, tally);
    }
}
