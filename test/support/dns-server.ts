// A DNS server for tests (dns2, UDP on 127.0.0.1): answers A records for the names the test
// sets, NXDOMAIN for the rest, so discovery runs against real DNS traffic.

import { Packet, createUDPServer, type UDPServer } from 'dns2';

export interface TestDnsServer {
  port: number;
  /** 127.0.0.1:PORT, the value for DNS_CLUSTER_RESOLVER. */
  address: string;
  /** Replaces the A records of a name; an empty list answers NOERROR with no records. */
  setRecords(name: string, ips: string[]): void;
  /** Forgets a name (NXDOMAIN from now on). */
  removeName(name: string): void;
  /** How many queries were answered (for assertions that discovery really asked). */
  queries(): number;
  close(): Promise<void>;
}

const normalise = (name: string): string => name.toLowerCase().replace(/\.$/, '');

/** `ttl` is what answers advertise (Swarm's embedded DNS says 600); the server never caches. */
export async function createDnsServer(
  options: { port?: number; ttl?: number; host?: string } = {},
): Promise<TestDnsServer> {
  const host = options.host ?? '127.0.0.1';
  const ttl = options.ttl ?? 0;
  const records = new Map<string, string[]>();
  let answered = 0;
  const server: UDPServer = createUDPServer((request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const question = request.questions[0];
    if (question) {
      const ips = records.get(normalise(question.name));
      if (ips === undefined) {
        response.header.rcode = 3; // NXDOMAIN
      } else if (question.type === Packet.TYPE.A || question.type === Packet.TYPE.ANY) {
        for (const address of ips) {
          response.answers.push(
            Packet.createResourceFromQuestion(question, {
              type: Packet.TYPE.A,
              class: Packet.CLASS.IN,
              ttl,
              address,
            }),
          );
        }
      }
    }
    answered++;
    void send(response).catch(() => undefined);
  });
  server.on('error', () => undefined);
  await server.listen(options.port ?? 0, host);
  const { port } = server.address();
  let closed = false;
  return {
    port,
    address: `${host}:${port}`,
    setRecords(name, ips) {
      records.set(normalise(name), [...ips]);
    },
    removeName(name) {
      records.delete(normalise(name));
    },
    queries: () => answered,
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
