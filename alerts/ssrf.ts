/**
 * SSRF guard for outgoing notifications, enforced at connect time.
 *
 * Every webhook and Slack request goes through an undici Agent whose
 * connector checks the address it is about to connect to: an IP literal in
 * the URL directly, a host name through a custom `lookup` that resolves it
 * and refuses the connection when ANY resolved address is not public. The
 * check is on the address actually connected to, so DNS rebinding (a name
 * that resolves to a public address when the channel is saved and to
 * 169.254.169.254 later) cannot bypass it; redirects are never followed
 * (undici's request does not follow them; a 3xx counts as a failed attempt).
 *
 * Allowed: only addresses ipaddr.js classifies as `unicast` (IPv4-mapped IPv6
 * judged as IPv4). Refused: loopback (127/8, ::1), private (10/8, 172.16/12,
 * 192.168/16), unique-local (fc00::/7), link-local (169.254/16 — cloud
 * metadata 169.254.169.254 — and fe80::/10), carrier-grade NAT (100.64/10),
 * multicast, broadcast, unspecified, reserved and documentation ranges, and
 * IPv6 transition ranges that embed IPv4 (6to4, Teredo, NAT64 rfc6052).
 *
 * `VIGIL_WEBHOOK_ALLOW_HOSTS` lists exceptions: CIDRs (`10.0.0.0/8`,
 * `::1/128`), single addresses (`127.0.0.1`) or host names (`alerts.internal`,
 * matched against the URL's host name, case-insensitive; its addresses are
 * then not checked).
 */
import dns, { type LookupAddress } from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector } from 'undici';
import { VigilError } from '../platform/errors.js';

/** Parsed VIGIL_WEBHOOK_ALLOW_HOSTS. */
export interface AllowList {
  hosts: ReadonlySet<string>;
  cidrs: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

/** The empty allow-list: every non-public address is refused. */
export const NO_EXCEPTIONS: AllowList = { hosts: new Set(), cidrs: [] };

/** A destination the guard refuses (VIGIL_ERR_WEBHOOK_DESTINATION_REFUSED, 400). */
export class DestinationRefusedError extends VigilError {
  constructor(message: string) {
    super('VIGIL_ERR_WEBHOOK_DESTINATION_REFUSED', message);
    this.name = 'DestinationRefusedError';
  }
}

/**
 * Parse allow-list entries (CIDR, IP address or host name).
 * @throws Error naming the first entry that is none of them.
 */
export function parseAllowList(entries: readonly string[]): AllowList {
  const hosts = new Set<string>();
  const cidrs: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  for (const raw of entries) {
    const e = raw.trim();
    if (e === '') continue;
    if (e.includes('/')) {
      let [addr, bits] = ipaddr.parseCIDR(e);
      if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
        addr = (addr as ipaddr.IPv6).toIPv4Address();
        bits = Math.max(0, bits - 96);
      }
      cidrs.push([addr, bits]);
    } else if (net.isIP(e.replace(/^\[(.*)\]$/, '$1')) !== 0) {
      const addr = ipaddr.process(e.replace(/^\[(.*)\]$/, '$1'));
      cidrs.push([addr, addr.kind() === 'ipv4' ? 32 : 128]);
    } else if (/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/.test(e)) {
      hosts.add(e.toLowerCase().replace(/\.$/, ''));
    } else {
      throw new Error(`${JSON.stringify(e)} is not a CIDR, an IP address or a host name`);
    }
  }
  return { hosts, cidrs };
}

/**
 * Why an address is refused.
 * @param address IPv4 or IPv6 literal (no brackets).
 * @returns undefined when Vigil may connect to it (public unicast, or allowed), else the reason.
 */
export function addressRefusal(address: string, allow: AllowList): string | undefined {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(address);
  } catch {
    return `${address} is not an IP address`;
  }
  for (const [net, bits] of allow.cidrs) {
    if (net.kind() === addr.kind() && addr.match(net as never, bits)) return undefined;
  }
  const range = addr.range();
  if (range === 'unicast') return undefined;
  return `${address} is a ${range} address`;
}

const FIX = 'notifications go to public addresses only; list the host or a CIDR in VIGIL_WEBHOOK_ALLOW_HOSTS to allow it';

/**
 * Check a URL before saving a channel: http(s) only, and a literal IP address
 * (or `localhost`) must pass {@link addressRefusal}. Host names are checked
 * again at every connect.
 * @throws DestinationRefusedError naming the URL's host and the fix.
 */
export function checkDestinationUrl(url: string, allow: AllowList): void {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (allow.hosts.has(host)) return;
  if (net.isIP(host) !== 0) {
    const why = addressRefusal(host, allow);
    if (why !== undefined) throw new DestinationRefusedError(`${why}: ${FIX}`);
  } else if (host === 'localhost' || host.endsWith('.localhost')) {
    const why = addressRefusal('127.0.0.1', allow);
    if (why !== undefined) throw new DestinationRefusedError(`${host} is a loopback name: ${FIX}`);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A net.connect `lookup` that refuses host names resolving to any non-allowed address. */
function guardedLookup(allow: AllowList) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const list = addresses as LookupAddress[];
      if (!allow.hosts.has(hostname.toLowerCase())) {
        for (const a of list) {
          const why = addressRefusal(a.address, allow);
          if (why !== undefined) return callback(new DestinationRefusedError(`${hostname} resolves to ${why}: ${FIX}`) as unknown as NodeJS.ErrnoException, '');
        }
      }
      if (list.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
      if (options.all === true) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

/**
 * An undici Agent that connects only to allowed addresses (see module doc).
 * @param opts.connectTimeoutMs TCP/TLS connect timeout, ms (default 10000).
 */
export function createGuardedAgent(allow: AllowList, opts: { connectTimeoutMs?: number } = {}): Agent {
  const base = buildConnector({ timeout: opts.connectTimeoutMs ?? 10_000, lookup: guardedLookup(allow) as never });
  const connect: buildConnector.connector = (options, callback) => {
    const host = options.hostname.replace(/^\[(.*)\]$/, '$1');
    if (net.isIP(host) !== 0 && !allow.hosts.has(host.toLowerCase())) {
      const why = addressRefusal(host, allow);
      if (why !== undefined) {
        callback(new DestinationRefusedError(`${why}: ${FIX}`), null);
        return;
      }
    }
    base(options, callback);
  };
  return new Agent({ connect, keepAliveTimeout: 10_000 });
}

/** The DestinationRefusedError in `err` or its causes, if any. */
export function refusalIn(err: unknown): DestinationRefusedError | undefined {
  for (let e = err, i = 0; e !== undefined && e !== null && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof DestinationRefusedError) return e;
    if ((e as { code?: unknown }).code === 'VIGIL_ERR_WEBHOOK_DESTINATION_REFUSED') return e as DestinationRefusedError;
  }
  return undefined;
}
