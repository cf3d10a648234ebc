using System.Globalization;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Parse.Config;

namespace Parse.Cluster.Runtime;

/// <summary>The HOCON configuration of a node's actor system.</summary>
public static class AkkaConfig
{
    /// <summary>Name of the actor system; identical on every process of a run.</summary>
    public const string SystemName = "parse";

    /// <summary>Split-brain resolver's stable-after: the failure-detection pause, at least 5 s.</summary>
    public static int StableAfterMs(ClusterConfig k) => Math.Max(5000, k.FailureDetectionMs);

    /// <summary>
    /// The actor system setup: <see cref="Hocon"/>, plus TLS with mutual authentication when <c>cluster.tls.enabled</c>
    /// (<see cref="TlsSetup"/>). Throws <see cref="ConfigException"/> for unreadable certificate files.
    /// </summary>
    public static ActorSystemSetup Setup(NodeOptions o, ExperimentConfig cfg, string baseDir)
    {
        var bootstrap = BootstrapSetup.Create().WithConfig(ConfigurationFactory.ParseString(Hocon(o, cfg.Cluster)));
        return cfg.Cluster.Tls.Enabled ? bootstrap.And(TlsSetup.Create(cfg.Cluster.Tls, baseDir, o.TlsCertificate)) : ActorSystemSetup.Create(bootstrap);
    }

    /// <summary>
    /// Builds the HOCON: cluster provider, dot-netty TCP on <paramref name="o"/>'s host and port, seed nodes, the binary
    /// serializer for <see cref="Protocol.IWireMessage"/>, a failure detector tuned by <see cref="ClusterConfig.FailureDetectionMs"/>,
    /// and the split-brain resolver with keep-majority (the majority side of a crash or partition downs the rest; with two processes the side with the lower address wins).
    /// The resolver waits <see cref="StableAfterMs"/> of unchanged membership before it decides, longer than Akka needs
    /// to replace a crashed incarnation by a restarted one on the same address (so a restart right after a crash never
    /// leaves a transient "indirectly connected" picture for it to act on), and never downs every node when the picture
    /// keeps changing (<c>down-all-when-unstable = off</c>). A node that was downed anyway rejoins as a new incarnation
    /// (<c>cluster.rejoin</c>). See docs/deployment.md, "Membership".
    /// </summary>
    public static string Hocon(NodeOptions o, ClusterConfig k)
    {
        // with TLS the DotNetty transport speaks (and addresses are) akka.ssl.tcp
        string protocol = k.Tls.Enabled ? "akka.ssl.tcp" : "akka.tcp";
        string seeds = string.Join(", ", o.SeedNodes.Select(s => $"\"{protocol}://{SystemName}@{s}\""));
        int pause = k.FailureDetectionMs;
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        return $$"""
            akka {
              loglevel = WARNING
              stdout-loglevel = WARNING
              log-dead-letters = off
              log-dead-letters-during-shutdown = off
              actor {
                provider = cluster
                guardian-supervisor-strategy = "Akka.Actor.StoppingSupervisorStrategy"
                serializers { parse = "Parse.Cluster.Protocol.MessageSerializer, Parse.Cluster" }
                serialization-bindings { "Parse.Cluster.Protocol.IWireMessage, Parse.Cluster" = parse }
              }
              remote {
                log-remote-lifecycle-events = off
                dot-netty.tcp {
                  hostname = "{{o.Host}}"
                  public-hostname = "{{o.PublicHost ?? o.Host}}"
                  port = {{I(o.Port)}}
                  maximum-frame-size = 1048576b
                  enable-ssl = {{(k.Tls.Enabled ? "on" : "off")}}
                }
              }
              cluster {
                seed-nodes = [{{seeds}}]
                log-info = off
                allow-weakly-up-members = 2s
                run-coordinated-shutdown-when-down = on
                downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
                split-brain-resolver {
                  active-strategy = keep-majority
                  stable-after = {{I(StableAfterMs(k))}}ms
                  down-all-when-unstable = off
                }
                failure-detector {
                  heartbeat-interval = 500ms
                  acceptable-heartbeat-pause = {{I(pause)}}ms
                  threshold = 8.0
                }
              }
              coordinated-shutdown {
                exit-clr = off
                run-by-clr-shutdown-hook = off
                phases.cluster-exiting.timeout = 3s
                phases.cluster-leave.timeout = 3s
              }
            }
            parse-agent-dispatcher { type = PinnedDispatcher }
            parse-agent-mailbox {
              mailbox-type = "Akka.Dispatch.BoundedMailbox"
              mailbox-capacity = {{I(k.Limits.MailboxCapacity)}}
              mailbox-push-timeout-time = 0s
            }
            """;
    }
}
