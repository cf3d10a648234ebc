using System.Runtime.InteropServices;

namespace Parse.Cluster.Checkpoints;

/// <summary>
/// Flushes a directory's entries to disk (POSIX <c>fsync</c> on the directory), so that a file renamed into it survives
/// a power loss. A no-op on Windows, where NTFS journals renames.
/// </summary>
internal static class DirectorySync
{
    private const int ReadOnly = 0;

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);

    /// <summary>Flushes <paramref name="directory"/>; returns false if the platform or file system does not allow it.</summary>
    public static bool Flush(string directory)
    {
        if (OperatingSystem.IsWindows()) return false;
        try
        {
            int fd = Open(directory, ReadOnly);
            if (fd < 0) return false;
            try { return Fsync(fd) == 0; }
            finally { Close(fd); }
        }
        catch (DllNotFoundException) { return false; }
        catch (EntryPointNotFoundException) { return false; }
    }
}
