namespace Parse.Data.Tabular;

/// <summary>An append-only array that grows by doubling from a capacity hint and trims to its length at the end.</summary>
internal sealed class GrowBuffer<T>(long capacityHint)
{
    private T[] _items = new T[Math.Clamp(capacityHint, 16, Array.MaxLength)];

    /// <summary>Number of items appended.</summary>
    public int Count { get; private set; }

    /// <summary>Appends the items.</summary>
    public void Add(ReadOnlySpan<T> items)
    {
        if (Count + items.Length > _items.Length)
        {
            long grown = Math.Max((long)_items.Length * 2, Count + items.Length);
            Array.Resize(ref _items, (int)Math.Min(grown, Array.MaxLength));
        }
        items.CopyTo(_items.AsSpan(Count));
        Count += items.Length;
    }

    /// <summary>Appends one item.</summary>
    public void Add(T item) => Add([item]);

    /// <summary>The items (the internal array itself when it is exactly full: no copy).</summary>
    public T[] ToArray()
    {
        if (Count != _items.Length) Array.Resize(ref _items, Count);
        return _items;
    }
}
