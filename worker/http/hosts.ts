// Host names an endpoint open for writes (no token) answers: loopback ones,
// and those its configuration names. A page on another site can reach a
// server on this machine only by DNS rebinding, which sends that site's own
// host name: refused. Web APIs only (Node and Workers).

/** Loopback addresses and names. */
export const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

/** The name of a Host header, without its port, lower case. */
export function hostName(host: string): string {
  return (host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '')).toLowerCase();
}

/** A Host check for an open endpoint: loopback names and `allowed` (names without ports). */
export function openHosts(allowed: readonly string[] = []): (host: string) => boolean {
  const names = new Set(allowed.map((h) => hostName(h)));
  return (host) => LOOPBACK.test(hostName(host)) || names.has(hostName(host));
}
