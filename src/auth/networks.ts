// Source-network matching on node:net's BlockList (IPv4 and IPv6 CIDR), with IPv4-mapped IPv6
// addresses ("::ffff:10.1.2.3", what a dual-stack socket reports) seen as the IPv4 they are.
import net from 'node:net';

export class NetworkList {
  readonly #list = new net.BlockList();

  /** Throws with the offending entry when one is not `address/prefix` (or a bare address). */
  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const parsed = parseCidr(cidr);
      if (!parsed) throw new Error(`"${cidr}" is not an IPv4 or IPv6 network (CIDR, e.g. 10.0.0.0/8 or fc00::/7)`);
      this.#list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  has(ip: string): boolean {
    const address = normalizeIp(ip);
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
    return family !== undefined && this.#list.check(address, family);
  }
}

export function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? mapped[1]! : ip;
}

export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, ...rest] = cidr.trim().split('/');
  if (rest.length > 0) return undefined;
  const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
  if (!family) return undefined;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family };
}
