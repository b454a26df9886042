// The Kafka side of a node's port: the sniffer in src/api/server/http1.ts hands over each
// connection whose first bytes are a Kafka frame; this owns them (at most connectionsMax) and
// closes them with the server.
import type { Socket } from 'node:net';
import { buildKafkaDispatcher } from './apis.ts';
import type { KafkaDispatcher, KafkaServices } from './dispatcher.ts';
import { checkKafkaConfig } from './kafka-config.ts';
import { KafkaConnection } from './kafka-connection.ts';

export class KafkaListener {
  readonly #services: KafkaServices;
  readonly #dispatcher: KafkaDispatcher;
  readonly #connections = new Set<KafkaConnection>();
  #isClosed = false;

  constructor(services: KafkaServices) {
    checkKafkaConfig(services.config);
    this.#services = services;
    this.#dispatcher = buildKafkaDispatcher();
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  accept(socket: Socket): void {
    if (this.#isClosed || this.#connections.size >= this.#services.config.connectionsMax) {
      this.#services.logger.warn('Kafka connection refused: connectionsMax reached or closing');
      socket.destroy();
      return;
    }
    const connection = new KafkaConnection(socket, this.#dispatcher, this.#services);
    this.#connections.add(connection);
    socket.once('close', () => this.#connections.delete(connection));
  }

  close(): void {
    this.#isClosed = true;
    for (const connection of this.#connections) connection.close();
    this.#connections.clear();
  }
}
