/**
 * Text messages through an HTTP SMS gateway (issue 21), sent by the outbox worker like mail: a row whose recipient
 * is `sms:+<digits>` (RFC 5724) goes to the gateway instead of SMTP, with the outbox's lease, retries and dead
 * letters. The request is the Twilio Messages API's shape, which most gateways take or mimic: a form POST of `To`,
 * `From` and `Body` to SMS_HTTP_URL, HTTP Basic auth (SMS_HTTP_USER / SMS_HTTP_PASSWORD: Twilio's Account SID and
 * auth token) or a bearer token (SMS_HTTP_TOKEN), and the outbox Message-ID as `Idempotency-Key` (and Twilio's
 * `I-Twilio-Idempotency-Token`) so a resend after a lost answer is recognisable as the same message.
 * A 2xx is sent (the gateway's message id, Twilio's `sid`, is kept on the row); 408, 429, 5xx and network failures
 * are retried by the outbox; any other 4xx is permanent (a wrong number, bad credentials) and the row goes dead
 * with the gateway's own words as its last error.
 * @see https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
 */

/** The address template texts are queued under when the HTTP gateway is configured (`{number}`: digits). */
export const SMS_ADDRESS_TEMPLATE = 'sms:+{number}';

/** The number of an `sms:` recipient (`+` and digits), or undefined for any other address. */
export function smsNumberOf(recipient: string): string | undefined {
  const m = /^sms:(\+\d{7,15})$/.exec(recipient);
  return m ? m[1] : undefined;
}

export interface SmsHttpConfig {
  /** The gateway's messages endpoint, e.g. https://api.twilio.com/2010-04-01/Accounts/AC.../Messages.json */
  url: string;
  /** The sender: a number in E.164 or a messaging service / alphanumeric sender the gateway accepts. */
  from: string;
  user?: string;
  password?: string;
  token?: string;
}

export interface SmsTransport {
  /** Sends one text; answers the gateway's id for it. Throws SmsError. */
  send(sms: { to: string; body: string; messageId: string }): Promise<{ id?: string }>;
}

/** A failed send; `permanent` ones are not retried (the outbox treats them as an SMTP 5xx). */
export class SmsError extends Error {
  readonly permanent: boolean;
  /** As the outbox worker reads permanence (an SMTP-style reply code). */
  readonly responseCode: number;
  constructor(message: string, permanent: boolean) {
    super(message);
    this.name = 'SmsError';
    this.permanent = permanent;
    this.responseCode = permanent ? 550 : 450;
  }
}

/** What the gateway said about a refusal, briefly (Twilio: `{code, message}`), for the row's last error. */
function gatewayWords(status: number, text: string): string {
  try {
    const j = JSON.parse(text) as { message?: unknown; code?: unknown; error?: unknown };
    const said = [j.code, j.message ?? j.error].filter((x) => typeof x === 'string' || typeof x === 'number').join(' ');
    if (said) return `SMS gateway answered ${status}: ${said}`.slice(0, 500);
  } catch {
    // not JSON: its first words
  }
  return `SMS gateway answered ${status}${text.trim() ? `: ${text.trim().slice(0, 200)}` : ''}`;
}

export function createHttpSmsTransport(cfg: SmsHttpConfig, timeoutMs = 15_000): SmsTransport {
  const auth = cfg.token
    ? `Bearer ${cfg.token}`
    : cfg.user
      ? `Basic ${Buffer.from(`${cfg.user}:${cfg.password ?? ''}`, 'utf8').toString('base64')}`
      : undefined;
  return {
    async send(sms) {
      let res: Response;
      try {
        res = await fetch(cfg.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
            'idempotency-key': sms.messageId,
            'i-twilio-idempotency-token': sms.messageId,
            ...(auth ? { authorization: auth } : {}),
          },
          body: new URLSearchParams({ To: sms.to, From: cfg.from, Body: sms.body }).toString(),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (e) {
        throw new SmsError(`SMS gateway not reached: ${e instanceof Error ? e.message : String(e)}`, false);
      }
      const text = await res.text().catch(() => '');
      if (res.ok) {
        try {
          const j = JSON.parse(text) as { sid?: unknown; id?: unknown };
          const id = typeof j.sid === 'string' ? j.sid : typeof j.id === 'string' ? j.id : undefined;
          return id ? { id: id.slice(0, 200) } : {};
        } catch {
          return {};
        }
      }
      const retry = res.status === 408 || res.status === 429 || res.status >= 500;
      throw new SmsError(gatewayWords(res.status, text), !retry);
    },
  };
}
