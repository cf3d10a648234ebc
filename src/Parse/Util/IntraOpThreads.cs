using TorchSharp;

namespace Parse.Util;

/// <summary>
/// libtorch's intra-op thread count is partly per thread: <c>torch.set_num_threads</c> sets the OpenMP and MKL counts of
/// the calling thread only (plus a global default that a thread adopts lazily, at its first parallel op). A pool thread
/// that runs a matrix product before any such op uses the machine's default count instead, and a product split over
/// another number of threads rounds differently. Which pool thread runs which agent depends on timing (more so under
/// load, when the pool adds threads), so without this the same seed gave results that differed in the 6th digit after
/// 10 rounds and by points after 80. Every thread that runs tensor work calls <see cref="Pin"/> first.
/// </summary>
public static class IntraOpThreads
{
    // mirrors libtorch's own thread-local state: whether this thread's counts have been set
    [ThreadStatic] private static bool _pinned;

    /// <summary>Whether <see cref="Pin"/> has run on the calling thread.</summary>
    public static bool IsPinned => _pinned;

    /// <summary>Sets this thread's intra-op thread count to one (once per thread; later calls cost a field read).</summary>
    public static void Pin()
    {
        if (_pinned) return;
        torch.set_num_threads(1);
        _pinned = true;
    }
}
