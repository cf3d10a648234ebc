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

    /// <summary>
    /// How long a member must stay suspected (unreachable, and not heard by the deciding node either) before it is
    /// downed: <c>cluster.down_after_ms</c>, or (0) twice the failure-detection pause, at least 10 s.
    /// </summary>
    public static int DownAfterMs(ClusterConfig k) => k.DownAfterMs > 0 ? k.DownAfterMs : (int)Math.Min(int.MaxValue, Math.Max(10_000L, 2L * k.FailureDetectionMs));

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
    /// and <see cref="ConservativeDowningProvider"/> instead of Akka's split-brain resolver: the leader of a majority downs
    /// a member only after it has been unreachable, and unheard by the leader itself, for <see cref="DownAfterMs"/>
    /// (<see cref="DowningPolicy"/>), so one slow observer's suspicion never downs a healthy member. A node that was
    /// downed anyway rejoins as a new incarnation (<c>cluster.rejoin</c>). See docs/deployment.md, "Membership".
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
                downing-provider-class = "Parse.Cluster.Runtime.ConservativeDowningProvider, Parse.Cluster"
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
            parse-downing { down-after = {{I(DownAfterMs(k))}}ms }
            parse-agent-dispatcher { type = PinnedDispatcher }
            parse-agent-mailbox {
              mailbox-type = "Akka.Dispatch.BoundedMailbox"
              mailbox-capacity = {{I(k.Limits.MailboxCapacity)}}
              mailbox-push-timeout-time = 0s
            }
            """;
    }
}
