using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Parse.Config;

namespace Parse;

/// <summary>One registered component: its name, its factory and a one-line description.</summary>
/// <typeparam name="TFactory">The factory type of the registry that holds the entry.</typeparam>
/// <param name="Name">Name used in configs (case-sensitive).</param>
/// <param name="Factory">Creates the component.</param>
/// <param name="Description">One line for listings and documentation (may be empty).</param>
public sealed record ComponentEntry<TFactory>(string Name, TFactory Factory, string Description) where TFactory : class;

/// <summary>
/// Named factories of one kind of component (datasets, encoders, strategies, ...), in registration order.
/// The registries in <see cref="Components"/> are process-wide: they hold the built-in components from the
/// start, and a program adds its own with <see cref="Register"/> before it loads a config or runs an experiment.
/// Names are case-sensitive and unique; an entry is never replaced or removed, so a name keeps its meaning for
/// the life of the process. All members are thread-safe.
/// </summary>
/// <typeparam name="TFactory">What is registered under a name, usually a delegate that creates the component.</typeparam>
public sealed class ComponentRegistry<TFactory> where TFactory : class
{
    private sealed record Snapshot(ImmutableDictionary<string, ComponentEntry<TFactory>> ByName, ImmutableList<ComponentEntry<TFactory>> Ordered);

    private readonly Lock _write = new();
    private volatile Snapshot _snapshot = new(ImmutableDictionary.Create<string, ComponentEntry<TFactory>>(StringComparer.Ordinal), []);

    /// <summary>Creates an empty registry.</summary>
    /// <param name="component">What the registry holds, singular, for messages (e.g. <c>dataset</c>).</param>
    public ComponentRegistry(string component)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(component);
        Component = component;
    }

    /// <summary>What the registry holds, singular (e.g. <c>dataset</c>); used in messages.</summary>
    public string Component { get; }

    /// <summary>Registered names in registration order (built-ins first).</summary>
    public IReadOnlyList<string> Names => _snapshot.Ordered.Select(e => e.Name).ToList();

    /// <summary>Registered entries in registration order (built-ins first).</summary>
    public IReadOnlyList<ComponentEntry<TFactory>> Entries => _snapshot.Ordered;

    /// <summary>Adds <paramref name="factory"/> under <paramref name="name"/>.</summary>
    /// <param name="name">Name used in configs; case-sensitive, non-empty, without white space.</param>
    /// <param name="factory">Creates the component.</param>
    /// <param name="description">One line for listings and documentation.</param>
    /// <exception cref="ArgumentException">The name is empty, contains white space, or is already registered.</exception>
    public void Register(string name, TFactory factory, string description = "")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        if (name.Any(char.IsWhiteSpace))
            throw new ArgumentException($"{Component} name '{name}' must not contain white space", nameof(name));
        lock (_write)
        {
            var s = _snapshot;
            if (s.ByName.ContainsKey(name))
                throw new ArgumentException(
                    $"{Component} '{name}' is already registered; names are unique and cannot be replaced, choose another name", nameof(name));
            var entry = new ComponentEntry<TFactory>(name, factory, description ?? "");
            _snapshot = new Snapshot(s.ByName.Add(name, entry), s.Ordered.Add(entry));
        }
    }

    /// <summary>True if <paramref name="name"/> is registered.</summary>
    public bool Contains(string name) => _snapshot.ByName.ContainsKey(name);

    /// <summary>The factory registered under <paramref name="name"/>, if any.</summary>
    public bool TryGet(string name, [MaybeNullWhen(false)] out TFactory factory)
    {
        if (_snapshot.ByName.TryGetValue(name, out var e))
        {
            factory = e.Factory;
            return true;
        }
        factory = null;
        return false;
    }

    /// <summary>
    /// The factory registered under <paramref name="name"/>; otherwise throws a <see cref="ConfigException"/>
    /// naming the config field: <c>{field}: unknown value '{name}' (expected one of: a, b, c)</c>.
    /// </summary>
    /// <param name="field">The config field that holds the name, e.g. <c>data.name</c>.</param>
    /// <param name="name">The requested name.</param>
    public TFactory Resolve(string field, string name) =>
        TryGet(name, out var f) ? f : throw new ConfigException(UnknownMessage(field, name));

    /// <summary>The message <see cref="Resolve"/> throws for an unknown <paramref name="name"/> in <paramref name="field"/>.</summary>
    public string UnknownMessage(string field, string name) =>
        $"{field}: unknown value '{name}' (expected one of: {string.Join(", ", Names)})";
}
