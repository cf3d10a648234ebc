using Parse.Data;
using Parse.Model;

namespace Parse.Config;

/// <summary>Checks a bound config before anything runs; every message names the field at fault.</summary>
public static class ConfigValidator
{
    /// <summary>Throws <see cref="ConfigException"/> listing every problem found.</summary>
    public static void Validate(ExperimentConfig c, string baseDir)
    {
        var errors = new List<string>();
        void Check(bool ok, string msg) { if (!ok) errors.Add(msg); }
        void OneOf(string field, string value, IEnumerable<string> allowed)
        {
            var list = allowed.ToList();
            if (!list.Contains(value)) errors.Add($"{field}: unknown value '{value}' (expected one of: {string.Join(", ", list)})");
        }

        InputLimits.Check(c, errors);
        OneOf("strategy", c.Strategy, Components.Strategies.Names);
        Check(c.Rounds >= 1, $"rounds: must be >= 1 (got {c.Rounds})");
        Check(c.Harmony.Stage1Fraction is >= 0 and <= 1, $"harmony.stage1_fraction: must be in [0,1] (got {c.Harmony.Stage1Fraction})");
        Check(c.Strategy != "harmony" || c.Model.Fission, "strategy: harmony runs on the three-slice model; set model.fission=true");
        foreach (var a in c.Ablate) OneOf("ablate", a, Ablations.Names);
        Check(c.Ablate.Count == 0 || (c.Strategy == "parse" && c.Model.Fission), "ablate: the ablations are of PARSE (strategy parse, model.fission true)");
        OneOf("data.name", c.Data.Name, Components.Datasets.Names);
        Check(c.Data.Modalities.Count >= 1, "data.modalities: at least one modality is needed");
        Check(c.Data.Modalities.Distinct().Count() == c.Data.Modalities.Count, "data.modalities: names must be unique");
        Check(c.Data.Modalities.All(m => m.Length > 0 && !m.Contains('+') && !m.Contains('/') && !m.Contains('|')),
            "data.modalities: names must be non-empty and must not contain '+', '/' or '|'");
        if (c.Data.Name == "synthetic-pid")
        {
            Check(c.Data.Modalities.Count >= 2, "data.modalities: synthetic-pid needs at least two modalities");
            Check(c.Data.SamplesPerAgent >= 1, $"data.samples_per_agent: must be >= 1 (got {c.Data.SamplesPerAgent})");
            Check(c.Data.TestSamples >= 1, $"data.test_samples: must be >= 1 (got {c.Data.TestSamples})");
            Check(c.Data.Noise >= 0 && double.IsFinite(c.Data.Noise), $"data.noise: must be a finite number >= 0 (got {c.Data.Noise})");
            Check(c.Data.DimsPerFactor >= 1, $"data.dims_per_factor: must be >= 1 (got {c.Data.DimsPerFactor})");
            Check(c.Data.NuisanceDims >= 0, $"data.nuisance_dims: must be >= 0 (got {c.Data.NuisanceDims})");
            Check(c.Data.RedundantBits >= 0 && c.Data.UniqueBits >= 0 && c.Data.SynergyBits >= 0, "data.*_bits: must be >= 0");
            int bits = c.Data.RedundantBits + c.Data.Modalities.Count * c.Data.UniqueBits + c.Data.SynergyBits;
            Check(bits is >= 1 and <= 12, $"data: synthetic-pid label has {bits} bits; 1..12 are supported (2^bits classes)");
            if (c.Data.SynergyModalities is { } sm)
            {
                Check(sm.Count >= 2, "data.synergy_modalities: needs at least two modalities");
                foreach (var s in sm) Check(c.Data.Modalities.Contains(s), $"data.synergy_modalities: unknown modality '{s}'");
            }
        }
        if (c.Data.Name is "av-mnist" or "multiview-csv" or "ts") DataValidator.Validate(c.Data, baseDir, errors);
        OneOf("data.partition.kind", c.Data.Partition.Kind, ["iid", "dirichlet", "natural"]);
        Check(c.Data.Partition.Kind != "natural" || c.Data.Name != "synthetic-pid",
            "data.partition.kind: 'natural' needs a dataset with groups (av-mnist: speaker; multiview-csv: data.group_column); synthetic-pid has none");
        Check(c.Data.Partition.Alpha > 0, $"data.partition.alpha: must be > 0 (got {c.Data.Partition.Alpha})");
        PartitionValidator.Validate(c.Data.Partition, errors);

        OneOf("agents.placement", c.Agents.Placement, ["interleaved", "blocked", "random"]);
        try { AgentPopulation.Build(c.Agents, c.Data.Modalities, c.Seed); }
        catch (ConfigException e) { errors.Add(e.Message); }

        var m = c.Model;
        Check(m.LatentDim >= 3, $"model.latent_dim: must be >= 3 (got {m.LatentDim})");
        if (m.Split.Count != 3) errors.Add($"model.split: expected three sizes [unique, redundant, synergistic] (got {m.Split.Count})");
        else
        {
            Check(m.Split.All(x => x >= 1), $"model.split: every slice needs size >= 1 (got [{string.Join(", ", m.Split)}])");
            Check(m.Split.Sum() == m.LatentDim,
                $"model.split: sizes [{string.Join(", ", m.Split)}] sum to {m.Split.Sum()} but model.latent_dim is {m.LatentDim}");
        }
        OneOf("model.fusion", m.Fusion, Components.Fusions.Names);
        OneOf("model.synergy_head", m.SynergyHead, ["mlp", "linear"]);
        OneOf("model.redundant_input", m.RedundantInput, ["mean", "each"]);
        OneOf("model.ensemble", m.Ensemble, Ensemble.Rules);
        Check(m.EnsembleHoldout is > 0 and < 0.5, $"model.ensemble_holdout: must be in (0, 0.5) (got {m.EnsembleHoldout})");
        OneOf("model.ensemble_fit", m.EnsembleFit, ["holdout", "rotating"]);
        Check(m.SynergyHidden >= 1, $"model.synergy_hidden: must be >= 1 (got {m.SynergyHidden})");
        Check(m.Heads.Count > 0, "model.heads: at least one head is needed");
        foreach (var h in m.Heads) OneOf("model.heads", h, ["unique", "redundant", "synergy"]);
        foreach (var (name, e) in m.Encoders)
        {
            Check(name == "default" || c.Data.Modalities.Contains(name),
                $"model.encoders.{name}: no such modality (data has: {string.Join(", ", c.Data.Modalities)})");
            EncoderChecks($"model.encoders.{name}", e, errors);
        }
        for (int i = 0; i < (c.Agents.Types?.Count ?? 0); i++)
            foreach (var (name, e) in c.Agents.Types![i].Encoders ?? [])
                EncoderChecks($"agents.types[{i}].encoders.{name}", e, errors);

        Check(c.Loss.Tau > 0, $"loss.tau: must be > 0 (got {c.Loss.Tau})");
        Check(c.Loss.Beta >= 0 && c.Loss.Separation >= 0 && c.Loss.HeadWeight >= 0 && c.Loss.EnsembleWeight >= 0,
            "loss: weights (beta, separation, head_weight, ensemble_weight) must be >= 0");
        Check(c.Loss.HeadWeight > 0 || c.Loss.EnsembleWeight > 0, "loss: head_weight and ensemble_weight cannot both be 0");

        OneOf("train.optimizer", c.Train.Optimizer, ["adam", "adam-torch", "sgd"]);
        Check(c.Train.Lr > 0 && double.IsFinite(c.Train.Lr), $"train.lr: must be > 0 (got {c.Train.Lr})");
        OneOf("train.lr_schedule", c.Train.LrSchedule, Training.LearningRateSchedule.Kinds);
        Check(c.Train.LrDecayStart is >= 0 and < 1, $"train.lr_decay_start: must be in [0, 1) (got {c.Train.LrDecayStart})");
        Check(c.Train.LrFinal is >= 0 and <= 1, $"train.lr_final: must be in [0, 1] (got {c.Train.LrFinal})");
        Check(c.Train.BatchSize >= 2, $"train.batch_size: must be >= 2 (got {c.Train.BatchSize})");
        Check(c.Train.LocalSteps >= 1, $"train.local_steps: must be >= 1 (got {c.Train.LocalSteps})");
        Check(c.Train.LocalEpochs is null or > 0, $"train.local_epochs: must be > 0 when set (got {c.Train.LocalEpochs})");

        OneOf("topology.kind", c.Topology.Kind, Components.Topologies.Names);
        if (c.Topology.Kind == "file")
        {
            if (string.IsNullOrWhiteSpace(c.Topology.File)) errors.Add("topology.file: required when topology.kind is 'file'");
            else
            {
                string full = Path.IsPathRooted(c.Topology.File) ? c.Topology.File : Path.Combine(baseDir, c.Topology.File);
                Check(File.Exists(full), $"topology.file: file not found: {full}");
            }
        }
        Check(c.Topology.Chord is null or >= 1, "topology.chord: must be >= 1");
        Check(c.Overlay.RepairWindow >= 0, $"overlay.repair_window: must be >= 0 (got {c.Overlay.RepairWindow})");
        OneOf("mixing.rule", c.Mixing.Rule, Components.Mixers.Names);
        Check(c.Mixing.Trim >= 0, $"mixing.trim: must be >= 0 (got {c.Mixing.Trim})");
        Check(c.Mixing.F >= 0, $"mixing.f: must be >= 0 (got {c.Mixing.F})");
        foreach (var msg in Federation.Mixing.MixerRequirements.FallbackErrors(c.Mixing)) errors.Add(msg);
        Check(c.Mixing.Clip is null || (c.Mixing.Clip > 0 && double.IsFinite(c.Mixing.Clip.Value)), $"mixing.clip: must be a finite number > 0, or unset for the adaptive radius (got {c.Mixing.Clip})");
        OneOf("mixing.radius", c.Mixing.Radius, ["median", "own-history"]);
        OneOf("mixing.outliers", c.Mixing.Outliers, ["clip", "drop"]);
        OneOf("mixing.screen", c.Mixing.Screen, ["none", "loss", "sign"]);
        Check(c.Mixing.ScreenSignTolerance is >= 0 and <= 0.5, $"mixing.screen_sign_tolerance: must be in 0..0.5 (got {c.Mixing.ScreenSignTolerance})");
        Check(c.Mixing.ScreenBatch is >= 1 and <= 100_000, $"mixing.screen_batch: must be in 1..100000 samples (got {c.Mixing.ScreenBatch})");
        Check(c.Mixing.ScreenTolerance >= 0 && double.IsFinite(c.Mixing.ScreenTolerance), $"mixing.screen_tolerance: must be a finite number >= 0 (got {c.Mixing.ScreenTolerance})");
        Check(c.Mixing.Screen == "none" || c.Mixing.Rule != "choco", $"mixing.screen: {c.Mixing.Screen} cannot be combined with mixing.rule choco (its public copies must take every neighbour's difference)");
        Check(c.Mixing.RadiusFactor > 0 && double.IsFinite(c.Mixing.RadiusFactor), $"mixing.radius_factor: must be a finite number > 0 (got {c.Mixing.RadiusFactor})");
        Check(c.Mixing.Radius == "median" || c.Mixing.Clip is null, $"mixing.radius: {c.Mixing.Radius} is an adaptive radius; unset mixing.clip (a fixed radius, {c.Mixing.Clip}) to use it");
        var atk = c.Attack;
        if (atk.Kind != "none")
        {
            OneOf("attack.kind", atk.Kind, Components.Attacks.Names.Prepend("none"));
            Check(atk.Fraction is >= 0 and <= 0.5, $"attack.fraction: must be in [0, 0.5] (got {atk.Fraction})");
            Check(atk.StartRound >= 1, $"attack.start_round: must be >= 1 (got {atk.StartRound})");
            Check(atk.Scale is null || double.IsFinite(atk.Scale.Value), $"attack.scale: must be a finite number (got {atk.Scale})");
            OneOf("attack.placement", atk.Placement, ["random", "spread"]);
            foreach (var role in atk.Roles) OneOf("attack.roles", role, Federation.Attacks.AttackRegistry.Roles);
            Check(atk.Kind != "slice-targeted" || atk.Roles.Count > 0, "attack.roles: slice-targeted needs the roles it attacks, e.g. [synergy] or [redundant]");
            Check(c.Strategy != "centralized", "attack: strategy centralized pools the data in one learner per type; there are no agents to attack");
        }
        foreach (var p in c.Payload.Processors) OneOf("payload.processors", p, Components.PayloadProcessors.Names);
        PayloadValidator.Validate(c, errors);
        DynamicsValidator.Validate(c, errors);
        Check(c.Eval.Every >= 1, $"eval.every: must be >= 1 (got {c.Eval.Every})");
        Check(c.Eval.EmbeddingSamples >= 10, $"eval.embedding_samples: must be >= 10 (got {c.Eval.EmbeddingSamples})");
        Check(c.Sim.Parallelism >= 1, $"sim.parallelism: must be >= 1 (got {c.Sim.Parallelism})");
        var k = c.Cluster;
        var t = c.Timing;
        Check(t.DeadlineMs >= 1, $"timing.deadline_ms: must be >= 1 (got {t.DeadlineMs})");
        Check(!t.AdaptiveDeadline || (t.MinDeadlineMs >= 1 && t.MinDeadlineMs <= t.DeadlineMs),
            $"timing.min_deadline_ms: must be in [1, timing.deadline_ms] with timing.adaptive_deadline (got {t.MinDeadlineMs})");
        Check(t.DeadlineFactor >= 1, $"timing.deadline_factor: must be >= 1 (got {t.DeadlineFactor})");
        Check(t.MaxStaleness >= 0, $"timing.max_staleness: must be >= 0 (got {t.MaxStaleness})");
        Check(t.ComputeMs > 0 && double.IsFinite(t.ComputeMs), $"timing.compute_ms: must be a finite number > 0 (got {t.ComputeMs})");
        Check(t.StragglerFraction is >= 0 and <= 1, $"timing.straggler_fraction: must be in [0,1] (got {t.StragglerFraction})");
        Check(t.StragglerSlowdown >= 1 && double.IsFinite(t.StragglerSlowdown), $"timing.straggler_slowdown: must be a finite number >= 1 (got {t.StragglerSlowdown})");
        Check(t.ComputeJitter is >= 0 and <= 3, $"timing.compute_jitter: must be in [0,3] (got {t.ComputeJitter})");
        Check(t.LatencyMs >= 0 && double.IsFinite(t.LatencyMs), $"timing.latency_ms: must be a finite number >= 0 (got {t.LatencyMs})");
        Check(t.LatencyJitterMs >= 0 && double.IsFinite(t.LatencyJitterMs), $"timing.latency_jitter_ms: must be a finite number >= 0 (got {t.LatencyJitterMs})");
        if (t.Trace is { } trace)
        {
            string full = Path.IsPathRooted(trace) ? trace : Path.Combine(baseDir, trace);
            Check(File.Exists(full), $"timing.trace: file not found: {full}");
        }
        Check(k.CheckpointEvery >= 0, $"cluster.checkpoint_every: must be >= 0 (got {k.CheckpointEvery})");
        Check(k.StallTimeoutMs >= 0, $"cluster.stall_timeout_ms: must be >= 0 (0 = automatic; got {k.StallTimeoutMs})");
        Check(k.MaxRejoins >= 0, $"cluster.max_rejoins: must be >= 0 (got {k.MaxRejoins})");
        Check(k.DiscoveryTimeoutMs >= 1 && k.DiscoveryQuietMs >= 1, "cluster.discovery_timeout_ms and cluster.discovery_quiet_ms: must be >= 1");
        Check(k.ChunkBytes >= 1024 && k.ChunkBytes <= Math.Min(k.MaxPayloadBytes, 524288), $"cluster.chunk_bytes: must be in [1024, min(cluster.max_payload_bytes, 524288)] (got {k.ChunkBytes})");
        Check(k.LingerMs >= 0, $"cluster.linger_ms: must be >= 0 (got {k.LingerMs})");
        Check(k.FailureDetectionMs >= 500, $"cluster.failure_detection_ms: must be >= 500 (got {k.FailureDetectionMs})");
        Check(k.DownAfterMs >= 0, $"cluster.down_after_ms: must be >= 0 (0 = automatic) (got {k.DownAfterMs})");
        ClusterLimitsValidator.Check(k, baseDir, Check);

        if (errors.Count == 1) throw new ConfigException(errors[0]);
        if (errors.Count > 1) throw new ConfigException("invalid configuration:\n  - " + string.Join("\n  - ", errors));
    }

    /// <summary>Checks one encoder's settings; <paramref name="field"/> is its path (e.g. <c>model.encoders.audio</c>).</summary>
    private static void EncoderChecks(string field, EncoderConfig e, List<string> errors)
    {
        void Check(bool ok, string msg) { if (!ok) errors.Add(msg); }
        var kinds = Components.Encoders.Names.ToList();
        Check(kinds.Contains(e.Kind), $"{field}.kind: unknown value '{e.Kind}' (expected one of: {string.Join(", ", kinds)})");
        Check(e.Hidden >= 1, $"{field}.hidden: must be >= 1");
        Check(e.Layers >= 1, $"{field}.layers: must be >= 1");
        Check(e.Channels >= 1, $"{field}.channels: must be >= 1");
        Check(e.Heads >= 1, $"{field}.heads: must be >= 1");
        Check(e.Pool is "last" or "mean", $"{field}.pool: unknown value '{e.Pool}' (expected one of: last, mean)");
        Check(e.Kind != "transformer" || e.Heads < 1 || e.Hidden % e.Heads == 0, $"{field}.heads: hidden ({e.Hidden}) must be a multiple of heads ({e.Heads})");
        Check(e.Widths is null || (e.Widths.Count > 0 && e.Widths.All(w => w >= 1)), $"{field}.widths: every width must be >= 1 (and at least one when set)");
    }
}
