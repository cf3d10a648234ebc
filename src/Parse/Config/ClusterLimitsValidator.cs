namespace Parse.Config;

/// <summary>Checks of <c>cluster.limits.*</c> and <c>cluster.tls.*</c> (called by <see cref="ConfigValidator"/>).</summary>
internal static class ClusterLimitsValidator
{
    public static void Check(ClusterConfig k, string baseDir, Action<bool, string> check)
    {
        var l = k.Limits;
        check(l.MaxRoundsAhead >= 1, $"cluster.limits.max_rounds_ahead: must be an integer >= 1 (got {l.MaxRoundsAhead})");
        check(l.MaxPendingPerSender >= 1, $"cluster.limits.max_pending_per_sender: must be an integer >= 1 (got {l.MaxPendingPerSender})");
        check(l.QuarantineAfter >= 0, $"cluster.limits.quarantine_after: must be an integer >= 0 (0 = never; got {l.QuarantineAfter})");
        check(l.MailboxCapacity >= 100, $"cluster.limits.mailbox_capacity: must be an integer >= 100 (got {l.MailboxCapacity})");
        var t = k.Tls;
        if (!t.Enabled) return;
        check(t.Certificate.Length > 0, "cluster.tls.certificate: TLS is enabled but no certificate is given (a .pfx file; see `parse cert`)");
        if (t.Ca.Length > 0)
        {
            string ca = Path.IsPathRooted(t.Ca) ? t.Ca : Path.Combine(baseDir, t.Ca);
            check(File.Exists(ca), $"cluster.tls.ca: file not found: {ca}");
        }
    }
}
