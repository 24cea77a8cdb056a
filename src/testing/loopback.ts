/**
 * Pod addresses on the loopback device, for the process kubelet (process-kubelet.ts).
 *
 * A pod that really runs listens on its pod IP, which is added to `lo` as a /32 (`ip addr add`).
 * Each control plane that runs processes reserves a pod CIDR of its own (a /16 in 10.200.0.0 -
 * 10.254.0.0 that no address or route of the machine overlaps) with a lock file naming its pid, so
 * control planes started at the same time on one machine never hand out the same address. A
 * reservation whose pid is gone (a harness killed by SIGKILL) is stale: the next reservation, or
 * `releaseStaleReservations()` (the sandbox's `down`), removes the addresses it left on `lo`.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { isAlive } from "./process.ts";

export class LoopbackError extends Error {
  override readonly name: string = "LoopbackError";
}

/** The harness may not change `lo`: no `ip` command, or no permission (CAP_NET_ADMIN). */
export class LoopbackPermissionError extends LoopbackError {
  override readonly name = "LoopbackPermissionError";
}

/** Runs `ip` with `args`; resolves with stdout. Injected so the pure parts are testable. */
export type IpCommand = (args: readonly string[]) => Promise<string>;

const IP_TIMEOUT_MS = 10_000;

/** The real `ip` (iproute2), with a timeout so a stuck call never hangs the harness. */
export const runIp: IpCommand = (args) =>
  new Promise((resolve, reject) => {
    execFile("ip", [...args], { timeout: IP_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const detail = stderr.trim() || err.message;
        if (code === "ENOENT") {
          reject(
            new LoopbackPermissionError(
              "the `ip` command is missing: pods that run need iproute2 (apt-get install iproute2), or start the control plane with processes: false",
              { cause: err },
            ),
          );
        } else if (/not permitted|permission denied/i.test(detail)) {
          reject(
            new LoopbackPermissionError(
              `the harness may not add addresses to lo (ip ${args.join(" ")}: ${detail}): run it as root or with CAP_NET_ADMIN, or start the control plane with processes: false`,
              { cause: err },
            ),
          );
        } else {
          reject(new LoopbackError(`ip ${args.join(" ")} failed: ${detail}`, { cause: err }));
        }
      } else {
        resolve(stdout);
      }
    });
  });

/** An IPv4 address as a number. */
export function ipv4ToNumber(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new LoopbackError(`not an IPv4 address: ${ip}`);
  return parts.reduce((n, p) => n * 256 + p, 0);
}

export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

interface Range {
  readonly first: number;
  readonly last: number;
}

/** The first and last address of "a.b.c.d/len" (or of one address). */
export function cidrRange(cidr: string): Range {
  const [ip = "", len = "32"] = cidr.split("/");
  const size = 2 ** (32 - Number(len));
  const first = Math.floor(ipv4ToNumber(ip) / size) * size;
  return { first, last: first + size - 1 };
}

export function cidrContains(cidr: string, ip: string): boolean {
  const r = cidrRange(cidr);
  const n = ipv4ToNumber(ip);
  return n >= r.first && n <= r.last;
}

function overlaps(a: string, b: string): boolean {
  const x = cidrRange(a);
  const y = cidrRange(b);
  return x.first <= y.last && y.first <= x.last;
}

/** The candidate pod CIDRs, in order: 10.200.0.0/16 .. 10.254.0.0/16. */
export function candidateCidrs(): string[] {
  return Array.from({ length: 55 }, (_, i) => `10.${200 + i}.0.0/16`);
}

/** The first candidate that overlaps none of the machine's networks and is not taken. */
export function chooseCidr(
  machineNetworks: readonly string[],
  taken: ReadonlySet<string>,
): string | undefined {
  return candidateCidrs().find((c) => !taken.has(c) && !machineNetworks.some((m) => overlaps(c, m)));
}

/** The IPv4 networks of the machine: every address (with its prefix) and every non-default route. */
export async function machineNetworks(ip: IpCommand = runIp): Promise<string[]> {
  const addrs = JSON.parse(await ip(["-j", "-4", "addr", "show"])) as {
    addr_info?: { local?: string; prefixlen?: number }[];
  }[];
  const routes = JSON.parse(await ip(["-j", "-4", "route", "show", "table", "all"])) as { dst?: string }[];
  const fromAddrs = addrs.flatMap((a) =>
    (a.addr_info ?? []).flatMap((i) => (i.local ? [`${i.local}/${i.prefixlen ?? 32}`] : [])),
  );
  const fromRoutes = routes.flatMap((r) =>
    r.dst && r.dst !== "default" && /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(r.dst) ? [r.dst] : [],
  );
  return [...fromAddrs, ...fromRoutes];
}

/** The IPv4 addresses on `lo`. */
export async function loopbackAddresses(ip: IpCommand = runIp): Promise<string[]> {
  const out = JSON.parse(await ip(["-j", "-4", "addr", "show", "dev", "lo"])) as {
    addr_info?: { local?: string }[];
  }[];
  return out.flatMap((a) => (a.addr_info ?? []).flatMap((i) => (i.local ? [i.local] : [])));
}

export async function addAddress(address: string, ip: IpCommand = runIp): Promise<void> {
  try {
    await ip(["addr", "add", `${address}/32`, "dev", "lo"]);
  } catch (err) {
    // Already there (a restarted process of the same pod): that is what we want.
    if (
      err instanceof LoopbackError &&
      !(err instanceof LoopbackPermissionError) &&
      /exists/i.test(err.message)
    )
      return;
    throw err;
  }
}

export async function removeAddress(address: string, ip: IpCommand = runIp): Promise<void> {
  try {
    await ip(["addr", "del", `${address}/32`, "dev", "lo"]);
  } catch (err) {
    if (err instanceof LoopbackError && /cannot assign|not found|no such/i.test(err.message)) return;
    throw err;
  }
}

/** Where reservations live: one file per CIDR, holding the pid of its owner. */
export function reservationDir(): string {
  return join(tmpdir(), "meo-pod-cidrs");
}

const fileOf = (cidr: string): string => join(reservationDir(), cidr.replace("/", "_"));
const cidrOf = (file: string): string => file.replace("_", "/");

/** Removes every address of `cidr` from lo. */
export async function removeAddressesIn(cidr: string, ip: IpCommand = runIp): Promise<string[]> {
  const left = (await loopbackAddresses(ip)).filter((a) => cidrContains(cidr, a));
  for (const address of left) await removeAddress(address, ip);
  return left;
}

/**
 * Releases every reservation whose owner is gone: removes the addresses it left on lo, then its
 * file. Returns the addresses removed.
 */
export async function releaseStaleReservations(ip: IpCommand = runIp): Promise<string[]> {
  mkdirSync(reservationDir(), { recursive: true });
  const removed: string[] = [];
  for (const file of readdirSync(reservationDir())) {
    let pid: number;
    try {
      pid = Number(readFileSync(join(reservationDir(), file), "utf8").trim());
    } catch {
      continue; // released meanwhile
    }
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
    removed.push(...(await removeAddressesIn(cidrOf(file), ip)));
    rmSync(join(reservationDir(), file), { force: true });
  }
  return removed;
}

/** A pod CIDR reserved for this process until `release()`. */
export interface CidrReservation {
  readonly cidr: string;
  /** Removes the addresses of the CIDR still on lo and the reservation. */
  release(): Promise<void>;
}

/**
 * Reserves a pod CIDR: releases stale reservations, then takes the first free candidate with an
 * exclusive create of its file (two harnesses racing for one file: one wins, the other moves on).
 */
export async function reserveCidr(ip: IpCommand = runIp): Promise<CidrReservation> {
  await releaseStaleReservations(ip);
  const networks = await machineNetworks(ip);
  const taken = new Set<string>();
  for (;;) {
    const cidr = chooseCidr(networks, taken);
    if (cidr === undefined)
      throw new LoopbackError(
        `no free pod CIDR in 10.200.0.0-10.254.255.255 (taken: ${[...taken].join(", ")}; machine: ${networks.join(", ")})`,
      );
    try {
      writeFileSync(fileOf(cidr), String(process.pid), { flag: "wx" });
    } catch {
      taken.add(cidr);
      continue;
    }
    return {
      cidr,
      release: async () => {
        try {
          await removeAddressesIn(cidr, ip);
        } finally {
          rmSync(fileOf(cidr), { force: true });
        }
      },
    };
  }
}

/**
 * Proves the harness may change lo: adds and removes `probeAddress`. Throws a
 * LoopbackPermissionError naming the cause and the fix when it may not.
 */
export async function checkLoopbackAccess(probeAddress: string, ip: IpCommand = runIp): Promise<void> {
  await addAddress(probeAddress, ip);
  await removeAddress(probeAddress, ip);
}
