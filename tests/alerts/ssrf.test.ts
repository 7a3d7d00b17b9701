/**
 * SSRF guard: addresses refused at connect time (literal and resolved), and
 * allowed only when listed in the allow-list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressRefusal, checkDestinationUrl, createGuardedAgent, NO_EXCEPTIONS, parseAllowList } from '../../alerts/ssrf.js';
import { sendOnce } from '../../alerts/sender.js';
import { startReceiver, type Receiver } from './support.js';

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
});

describe('SSRF guard', () => {
  it('classifies addresses: only public unicast passes', () => {
    for (const a of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', 'fe80::1', 'fc00::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254']) {
      expect(addressRefusal(a, NO_EXCEPTIONS), a).toBeDefined();
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111']) expect(addressRefusal(a, NO_EXCEPTIONS), a).toBeUndefined();
    const allow = parseAllowList(['10.0.0.0/8', '::1', 'alerts.internal']);
    expect(addressRefusal('10.1.2.3', allow)).toBeUndefined();
    expect(addressRefusal('::1', allow)).toBeUndefined();
    expect(addressRefusal('127.0.0.1', allow)).toBeDefined();
    expect(() => parseAllowList(['not a host!'])).toThrow(/not a CIDR/);
  });

  it('refuses 169.254.169.254, 10.0.0.1, [::1] and a name resolving to 127.0.0.1 at connect time', async () => {
    const agent = createGuardedAgent(NO_EXCEPTIONS);
    try {
      const port = new URL(receiver.url).port;
      for (const url of ['http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/hook', `http://[::1]:${port}/hook`, `http://localhost:${port}/hook`, `http://127.0.0.1:${port}/hook`]) {
        const r = await sendOnce({ agent, url, body: '{}', messageId: 'msg_x', timeoutMs: 2000 });
        expect(r.refused, url).toBe(true);
        expect(r.status).toBeNull();
      }
      expect(receiver.received).toHaveLength(0);
    } finally {
      await agent.close();
    }
  });

  it('allows a listed CIDR or host name', async () => {
    const port = new URL(receiver.url).port;
    for (const entry of ['127.0.0.0/8', 'localhost']) {
      const agent = createGuardedAgent(parseAllowList([entry]));
      try {
        const r = await sendOnce({ agent, url: `http://localhost:${port}/hook`, body: '{}', messageId: `msg_${entry}` });
        expect(r.status, entry).toBe(200);
      } finally {
        await agent.close();
      }
    }
  });

  it('does not follow redirects', async () => {
    const agent = createGuardedAgent(parseAllowList(['127.0.0.1']));
    try {
      receiver.script.push({ status: 302, headers: { location: 'http://169.254.169.254/' } });
      const r = await sendOnce({ agent, url: receiver.url, body: '{}', messageId: 'msg_redirect' });
      expect(r.status).toBe(302);
    } finally {
      await agent.close();
    }
  });

  it('refuses literal non-public URLs when a channel is saved', () => {
    expect(() => checkDestinationUrl('http://169.254.169.254/', NO_EXCEPTIONS)).toThrow(/linkLocal/);
    expect(() => checkDestinationUrl('http://[::1]:9/', NO_EXCEPTIONS)).toThrow(/loopback/);
    expect(() => checkDestinationUrl('http://localhost:9/', NO_EXCEPTIONS)).toThrow(/loopback/);
    expect(() => checkDestinationUrl('https://hooks.example.com/x', NO_EXCEPTIONS)).not.toThrow();
    expect(() => checkDestinationUrl('http://127.0.0.1:9/', parseAllowList(['127.0.0.1']))).not.toThrow();
  });
});
