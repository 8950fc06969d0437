import { testDatabases } from './databases.js';

describe.each(testDatabases)('opening-night migrations on $name', ({ open }) => {
  it('create the registrant, draw, ticket, waiting room and outbox tables', async () => {
    const db = await open();
    try {
      const r = await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`,
      );
      const names = r.rows.map((x) => x.table_name);
      for (const t of ['registrant', 'lottery_draw', 'invitation_ticket', 'cohort_window', 'waiting_room_event',
        'waiting_room_entry', 'waiting_room_session', 'notification_outbox', 'opening_night_secret']) {
        expect(names).toContain(t);
      }
    } finally {
      await db.close();
    }
  });
});
