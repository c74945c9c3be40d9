/** Worker-side DB readers for webhook tests (deliveries and attempts as stored). */
import { env } from "cloudflare:test";

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  status_code: number | null;
  latency_ms: number | null;
  response_excerpt: string | null;
  error: string | null;
  created_at: string;
}

export async function deliveriesOf(endpointId: string): Promise<DeliveryRow[]> {
  const r = await env.DB.prepare("select * from webhook_deliveries where endpoint_id = ? order by id")
    .bind(endpointId)
    .all<DeliveryRow>();
  return r.results;
}

export async function attemptsOf(deliveryId: string): Promise<AttemptRow[]> {
  const r = await env.DB.prepare("select * from webhook_attempts where delivery_id = ? order by attempt")
    .bind(deliveryId)
    .all<AttemptRow>();
  return r.results;
}

export async function eventIdsOf(environmentId: string, type?: string): Promise<string[]> {
  const r = type
    ? await env.DB.prepare("select id from events where environment_id = ? and type = ? order by id")
        .bind(environmentId, type)
        .all<{ id: string }>()
    : await env.DB.prepare("select id from events where environment_id = ? order by id")
        .bind(environmentId)
        .all<{ id: string }>();
  return r.results.map((x) => x.id);
}
