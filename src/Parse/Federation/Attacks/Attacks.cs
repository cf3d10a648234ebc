using Parse.Config;
using Parse.Model;
using Parse.Util;
using TorchSharp;
using static TorchSharp.torch;

namespace Parse.Federation.Attacks;

/// <summary>What an attacking agent knows when it poisons one group's payload: only local state.</summary>
/// <param name="Round">The round being played (1-based).</param>
/// <param name="Group">The group.</param>
/// <param name="Honest">The values an honest agent would send (one tensor per parameter).</param>
/// <param name="Received">What the agent received from its neighbours for this group in its last mixed round (may be empty).</param>
/// <param name="Initial">The group's values at the start of the run.</param>
/// <param name="Random">The attacker's own random stream.</param>
public sealed record AttackContext(int Round, ParameterGroup Group, IReadOnlyList<Tensor> Honest,
    IReadOnlyList<IReadOnlyList<Tensor>> Received, IReadOnlyList<Tensor> Initial, Random Random);

/// <summary>
/// A Byzantine behaviour, run by the attacking agents' cores in both runtimes (<c>attack.kind</c>). Payload attacks
/// return the values to send instead of the honest ones; data attacks act on the attacker's training data.
/// </summary>
public interface IAttack
{
    /// <summary>Name used in <c>attack.kind</c>.</summary>
    string Name { get; }

    /// <summary>The values to send (new tensors; the caller disposes them), or null to send the honest values.</summary>
    IReadOnlyList<Tensor>? Poison(AttackContext context);

    /// <summary>Maps a training label of the attacker (data poisoning); identity for payload attacks.</summary>
    int MapLabel(int label, int numClasses) => label;

    /// <summary>True when <see cref="MapLabel"/> changes labels (the attacker's training data is relabelled).</summary>
    bool PoisonsData => false;

    /// <summary>True when the attacker does no local training (a free rider).</summary>
    bool SkipsTraining => false;

    /// <summary>True when <see cref="AttackContext.Received"/> is used (the core then keeps a copy of the last mixed values).</summary>
    bool NeedsReceived => false;

    /// <summary>
    /// True when the attacker's payloads are left out of every agent's mixing, as if it sent nothing (a baseline: its
    /// neighbours lose it as a partner but receive no poison).
    /// </summary>
    bool Silent => false;
}

/// <summary>Sends -scale x the honest values.</summary>
public sealed class SignFlipAttack(double scale) : IAttack
{
    /// <inheritdoc />
    public string Name => "sign-flip";
    /// <inheritdoc />
    public IReadOnlyList<Tensor>? Poison(AttackContext c) => c.Honest.Select(v => v.Times(-scale)).ToList();
}

/// <summary>Sends scale x the honest values (a model-replacement style boost).</summary>
public sealed class ScaleAttack(double scale) : IAttack
{
    /// <inheritdoc />
    public string Name => "scale";
    /// <inheritdoc />
    public IReadOnlyList<Tensor>? Poison(AttackContext c) => c.Honest.Select(v => v.Times(scale)).ToList();
}

/// <summary>Sends Gaussian noise N(0, scale^2) of the group's shapes.</summary>
public sealed class GaussianAttack(double scale) : IAttack
{
    /// <inheritdoc />
    public string Name => "gaussian";
    /// <inheritdoc />
    public IReadOnlyList<Tensor>? Poison(AttackContext c)
    {
        var gen = new torch.Generator((ulong)c.Random.NextInt64());
        return c.Honest.Select(v => torch.randn(v.shape, generator: gen).Times(scale)).ToList();
    }
}

/// <summary>
/// "A little is enough" (Baruch et al., 2019), decentralized: mean - scale x std, per coordinate, of the values the
/// attacker itself and its neighbours held in its last round; stays inside the spread of honest values so that
/// distance-based defences accept it, yet pushes every coordinate the same way.
/// </summary>
public sealed class AlieAttack(double scale) : IAttack
{
    /// <inheritdoc />
    public string Name => "alie";
    /// <inheritdoc />
    public bool NeedsReceived => true;
    /// <inheritdoc />
    public IReadOnlyList<Tensor>? Poison(AttackContext c)
    {
        var result = new List<Tensor>();
        for (int k = 0; k < c.Honest.Count; k++)
        {
            var all = torch.stack(c.Received.Select(r => r[k]).Append(c.Honest[k]).ToArray(), 0);
            var std = all.shape[0] > 1 ? all.std(0, false) : torch.zeros_like(c.Honest[k]);
            result.Add(all.mean([0]).sub(std.Times(scale)));
        }
        return result;
    }
}

/// <summary>
/// Inner-product manipulation (Xie et al., 2020), decentralized: -scale x the mean of what the attacker and its
/// neighbours held in its last round, so the honest mean's inner product with the true direction turns negative.
/// </summary>
public sealed class IpmAttack(double scale) : IAttack
{
    /// <inheritdoc />
    public string Name => "ipm";
    /// <inheritdoc />
    public bool NeedsReceived => true;
    /// <inheritdoc />
    public IReadOnlyList<Tensor>? Poison(AttackContext c) =>
        c.Honest.Select((v, k) => torch.stack(c.Received.Select(r => r[k]).Append(v).ToArray(), 0).mean([0]).Times(-scale)).ToList();
}

/// <summary>Data poisoning: the attacker trains on labels mapped y -> C - 1 - y and otherwise behaves honestly.</summary>
public sealed class LabelFlipAttack : IAttack
{
    /// <inheritdoc />
    public string Name => "label-flip";
    /// <inheritdoc />
    public IReadOnlyList<Tensor>? Poison(AttackContext c) => null;
    /// <inheritdoc />
    public int MapLabel(int label, int numClasses) => numClasses - 1 - label;
    /// <inheritdoc />
    public bool PoisonsData => true;
}

/// <summary>A free rider: does no local training and keeps sending its initial parameters, while mixing in everyone else's work.</summary>
public sealed class FreeRiderAttack : IAttack
{
    /// <inheritdoc />
    public string Name => "free-rider";
    /// <inheritdoc />
    public bool SkipsTraining => true;
    /// <inheritdoc />
    public IReadOnlyList<Tensor>? Poison(AttackContext c) => c.Initial.Select(v => v.clone()).ToList();
}

/// <summary>
/// A silent attacker, the baseline of the attacks: its payloads are left out of its neighbours' mixing (their weight
/// stays with the receiver, as with <c>mixing.outliers: drop</c>), so honest agents lose it as a partner and get no
/// poison. It still publishes on time, so no round waits for a deadline and the rounds run as in an attack.
/// </summary>
public sealed class SilentAttack : IAttack
{
    /// <inheritdoc />
    public string Name => "silent";
    /// <inheritdoc />
    public bool Silent => true;
    /// <inheritdoc />
    public IReadOnlyList<Tensor>? Poison(AttackContext c) => null;
}

/// <summary>Which agents attack, and with what (from <c>attack.*</c>); the same in both runtimes.</summary>
public sealed class AttackPlan
{
    private readonly HashSet<int> _attackers;
    private readonly HashSet<GroupRole>? _roles;
    private readonly bool _silent;

    private AttackPlan(AttackConfig cfg, HashSet<int> attackers, HashSet<GroupRole>? roles)
    {
        Config = cfg;
        _attackers = attackers;
        _roles = roles;
        _silent = attackers.Count > 0 && cfg.Kind != "none" && AttackRegistry.Registry.Resolve("attack.kind", cfg.Kind)(cfg).Silent;
    }

    /// <summary>The attack settings.</summary>
    public AttackConfig Config { get; }

    /// <summary>Ids of the attacking agents, ascending.</summary>
    public IReadOnlyList<int> Attackers => _attackers.Order().ToList();

    /// <summary>True if agent <paramref name="id"/> attacks.</summary>
    public bool IsAttacker(int id) => _attackers.Contains(id);

    /// <summary>True if agent <paramref name="id"/> lies in overlay discovery (<c>attack.discovery</c>, cluster only).</summary>
    public bool LiesInDiscovery(int id) => Config.Discovery && IsAttacker(id);

    /// <summary>True if groups of <paramref name="role"/> are attacked.</summary>
    public bool Targets(GroupRole role) => _roles is null || _roles.Contains(role);

    /// <summary>
    /// True if what agent <paramref name="sender"/> sent for a group of <paramref name="role"/> in round
    /// <paramref name="round"/> is left out of mixing (a <see cref="IAttack.Silent"/> attacker from its start round).
    /// </summary>
    public bool Silenced(int sender, int round, GroupRole role) => _silent && round >= Config.StartRound && IsAttacker(sender) && Targets(role);

    /// <summary>The plan of <paramref name="cfg"/> for <paramref name="agents"/> agents.</summary>
    public static AttackPlan Of(ExperimentConfig cfg, int agents)
    {
        var a = cfg.Attack;
        if ((a.Kind == "none" && !a.Discovery) || a.Fraction <= 0) return new AttackPlan(a, [], null);
        int count = (int)Math.Round(a.Fraction * agents);
        IEnumerable<int> ids;
        if (a.Placement == "spread")
            ids = Enumerable.Range(0, count).Select(k => (int)((long)k * agents / Math.Max(1, count)));
        else
        {
            var order = Enumerable.Range(0, agents).ToArray();
            RandomExtensions.Shuffle(new Random(Seeds.Derive(cfg.Seed, "attackers")), order);
            ids = order.Take(count);
        }
        var roles = a.Roles.Count == 0 ? null : a.Roles.Select(r => Enum.Parse<GroupRole>(r, ignoreCase: true)).ToHashSet();
        return new AttackPlan(a, ids.ToHashSet(), roles);
    }

    /// <summary>The attack agent <paramref name="id"/> runs, or null for an honest agent.</summary>
    public IAttack? For(int id) => IsAttacker(id) && Config.Kind != "none" ? AttackRegistry.Registry.Resolve("attack.kind", Config.Kind)(Config) : null;
}

/// <summary>Attacks by <c>attack.kind</c>; see <see cref="Components.Attacks"/> to add your own.</summary>
public static class AttackRegistry
{
    /// <summary>Roles accepted in <c>attack.roles</c>.</summary>
    public static IReadOnlyList<string> Roles => Enum.GetNames<GroupRole>().Select(r => r.ToLowerInvariant()).ToList();

    /// <summary>The registry behind <see cref="Components.Attacks"/>.</summary>
    internal static readonly ComponentRegistry<Func<AttackConfig, IAttack>> Registry = Build();

    private static ComponentRegistry<Func<AttackConfig, IAttack>> Build()
    {
        var r = new ComponentRegistry<Func<AttackConfig, IAttack>>("attack");
        r.Register("sign-flip", a => new SignFlipAttack(a.Scale ?? 1), "send -scale x the honest values");
        r.Register("scale", a => new ScaleAttack(a.Scale ?? 10), "send scale x the honest values");
        r.Register("gaussian", a => new GaussianAttack(a.Scale ?? 1), "send N(0, scale^2) noise");
        r.Register("alie", a => new AlieAttack(a.Scale ?? 1.5), "a little is enough: mean - scale x std of the last values seen");
        r.Register("ipm", a => new IpmAttack(a.Scale ?? 1), "inner-product manipulation: -scale x the mean of the last values seen");
        r.Register("label-flip", _ => new LabelFlipAttack(), "train on labels C - 1 - y");
        r.Register("free-rider", _ => new FreeRiderAttack(), "no local training; resend the initial parameters");
        r.Register("silent", _ => new SilentAttack(), "baseline: the attacker's payloads are left out of mixing (partners lost, no poison)");
        r.Register("slice-targeted", a => new SignFlipAttack(a.Scale ?? 1), "sign-flip restricted to attack.roles (e.g. [synergy])");
        return r;
    }
}
